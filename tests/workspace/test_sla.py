"""The MQL SLA: the clock, breaches found once and e-mailed once over real SMTP."""

import datetime as dt
import email

import pytest
from django.utils import timezone

from funnel.models import SlaBreach, WorkspaceSettings
from funnel.sla import sla_breach_notify, sla_breaches_find, sla_breaches_notify, sla_clock
from leads.models import Lead
from tests.conftest import move

pytestmark = pytest.mark.django_db
HOUR = dt.timedelta(hours=1)


def test_the_clock_turns_due_soon_then_breached():
    since = timezone.now()
    assert sla_clock(since, hours=8, now=since + HOUR).state == "ok"
    assert sla_clock(since, hours=8, now=since + 6 * HOUR).state == "due_soon"
    late = sla_clock(since, hours=8, now=since + 9 * HOUR)
    assert (late.state, late.label, late.waited_hours) == ("breached", "SLA breached", 9)
    assert late.due_at == since + 8 * HOUR


def _age(lead, hours):
    Lead.objects.filter(pk=lead.pk).update(
        stage_changed_at=timezone.now() - dt.timedelta(hours=hours)
    )


def test_it_finds_a_breach_once_and_e_mails_it_once(smtp_server, make_lead, rep, manager, rep2):
    WorkspaceSettings.objects.update_or_create(pk=1, defaults={"sla_hours": 4})
    late = make_lead("mql", owner=rep, first_name="Ana", last_name="Late")
    _age(late, 5)
    fresh = make_lead("mql", owner=rep2)
    _age(fresh, 3)
    decided = make_lead("sal")
    _age(decided, 50)

    pending = sla_breaches_find()
    assert [SlaBreach.objects.get(pk=pk).lead_id for pk in pending] == [late.pk]
    # The next beat finds nothing new, and the notifier sends once whatever runs twice.
    assert sla_breaches_find() == pending
    assert sla_breach_notify(breach_id=pending[0]) is True
    assert sla_breach_notify(breach_id=pending[0]) is False
    assert sla_breaches_find() == []
    assert SlaBreach.objects.count() == 1

    # One digest per recipient: the owner and the manager.
    assert sorted(r for _s, [r], _m in smtp_server.messages) == [
        "manager@example.com",
        "rep@example.com",
    ]
    message = email.message_from_bytes(smtp_server.messages[0][2])
    assert message["Subject"] == "SLA breached: Ana Late has waited 5 h for a decision"
    assert f"/leads/{late.pk}/" in message.get_payload()


def test_a_lead_back_in_mql_later_is_a_new_breach(smtp_server, make_lead, rep, manager):
    WorkspaceSettings.objects.update_or_create(pk=1, defaults={"sla_hours": 1})
    lead = make_lead("mql", owner=rep)
    _age(lead, 2)
    [first] = sla_breaches_find()
    sla_breach_notify(breach_id=first)
    move(lead, "nurture", rep)
    move(lead, "mql", manager)
    _age(lead, 3)
    [second] = sla_breaches_find()
    assert second != first
    assert sla_breach_notify(breach_id=second) is True
    # Each time one digest for the owner and one for the manager.
    assert len(smtp_server.messages) == 4


def test_a_failed_send_is_not_marked_and_goes_out_on_retry(smtp_server, make_lead, rep):
    from smtplib import SMTPException

    WorkspaceSettings.objects.update_or_create(pk=1, defaults={"sla_hours": 1})
    lead = make_lead("mql", owner=rep)
    _age(lead, 2)
    [breach] = sla_breaches_find()
    smtp_server.fail_next = 1
    with pytest.raises(SMTPException):
        sla_breach_notify(breach_id=breach)
    assert SlaBreach.objects.get(pk=breach).notified_at is None
    assert sla_breach_notify(breach_id=breach) is True
    assert sorted(r for _s, [r], _m in smtp_server.messages) == [
        "manager@example.com",
        "rep@example.com",
    ]


def test_the_beat_task_sends_one_digest_per_recipient(smtp_server, make_lead, rep):
    from config.celery import app
    from funnel.tasks import find_sla_breaches

    WorkspaceSettings.objects.update_or_create(pk=1, defaults={"sla_hours": 1})
    for _ in range(2):
        _age(make_lead("mql", owner=rep), 2)
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = True
    try:
        assert find_sla_breaches.apply().get() == 2
        assert find_sla_breaches.apply().get() == 0
    finally:
        app.conf.task_always_eager = eager
    # Two leads of one rep: one e-mail to the rep naming both (and one to the manager).
    assert sorted(r for _s, [r], _m in smtp_server.messages) == [
        "manager@example.com",
        "rep@example.com",
    ]
    [raw] = [m for _s, [r], m in smtp_server.messages if r == "rep@example.com"]
    message = email.message_from_bytes(raw)
    assert message["Subject"] == ("SLA breached: 2 MQLs are waiting past the SLA for a decision")
    assert message.get_payload().count("/leads/") == 2


@pytest.mark.postgres
@pytest.mark.redis
def test_a_real_worker_e_mails_a_breach_once(worker, smtp_server, make_lead, rep):
    import re

    from funnel.tasks import find_sla_breaches
    from tests.services import wait_for

    WorkspaceSettings.objects.update_or_create(pk=1, defaults={"sla_hours": 1})
    _age(make_lead("mql", owner=rep), 2)
    process = worker()
    for _ in range(3):
        find_sla_breaches.delay()

    def settled():
        log = process.log()
        received = re.findall(r"Task funnel\.(\w+)\[[^\]]+\] received", log)
        done = re.findall(r"Task funnel\.(\w+)\[[^\]]+\] succeeded", log)
        return done.count("find_sla_breaches") == 3 and len(done) == len(received)

    wait_for(settled, message="three beat runs and every notification they queued")
    assert SlaBreach.objects.get().notified_at is not None
    # Once per recipient (the owner and the manager), whatever the three beat runs did.
    assert sorted(r for _s, [r], _m in smtp_server.messages) == [
        "manager@example.com",
        "rep@example.com",
    ]


def test_it_sends_one_digest_per_recipient_for_many_breaches(
    smtp_server, make_lead, rep, rep2, manager
):
    WorkspaceSettings.objects.update_or_create(pk=1, defaults={"sla_hours": 1})
    for owner in [rep] * 30 + [rep2] * 20 + [None] * 5:
        _age(make_lead("mql", owner=owner), 2)
    pending = sla_breaches_find()
    assert len(pending) == 55
    assert sla_breaches_notify() == 55
    assert sla_breaches_notify() == 0
    by_recipient = {
        recipients[0]: email.message_from_bytes(raw).get_payload()
        for _s, recipients, raw in smtp_server.messages
    }
    assert len(smtp_server.messages) == 3
    assert by_recipient["rep@example.com"].count("/leads/") == 30
    assert by_recipient["rep2@example.com"].count("/leads/") == 20
    assert by_recipient["manager@example.com"].count("/leads/") == 55
    assert not SlaBreach.objects.filter(notified_at__isnull=True).exists()


def test_an_imported_mql_stay_never_breaches_and_reads_imported(
    smtp_server, make_lead, rep, client
):
    from funnel.imports import IMPORT_VERB
    from funnel.models import Transition
    from funnel.queue import queue_leads, queue_rows

    WorkspaceSettings.objects.update_or_create(pk=1, defaults={"sla_hours": 1})
    long_ago = timezone.now() - dt.timedelta(days=3000)
    old = Lead.objects.create(
        email="old@example.com", stage="mql", stage_changed_at=long_ago, owner=rep
    )
    Transition.objects.create(
        lead=old,
        from_stage="",
        to_stage="mql",
        verb=IMPORT_VERB,
        system_actor="import #1",
        at=long_ago,
    )
    live = make_lead("mql", owner=rep)
    _age(live, 2)
    pending = sla_breaches_find()
    assert [SlaBreach.objects.get(pk=pk).lead_id for pk in pending] == [live.pk]
    rows = {row.lead.pk: row.clock for row in queue_rows(queue_leads(rep))}
    assert (rows[old.pk].state, rows[old.pk].label) == ("history", "Imported: no SLA")
    assert rows[live.pk].state == "breached"
