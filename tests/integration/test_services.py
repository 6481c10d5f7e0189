"""The real parts the rest of the suite leans on: a worker on Redis, SMTP, the browser."""

import pytest
from django.core import mail

from funnel.models import Transition
from funnel.tasks import move_lead
from leads.models import Lead
from tests.conftest import log_in
from tests.services import wait_for


@pytest.mark.postgres
@pytest.mark.redis
def test_a_real_worker_moves_a_lead_queued_on_commit(worker, make_lead):
    lead = make_lead("suspect")
    worker()
    move_lead.delay(lead.pk, "mql", "score over 50")
    wait_for(lambda: Lead.objects.get(pk=lead.pk).stage == "mql", message="the worker's move")
    row = Transition.objects.filter(lead=lead).last()
    assert (row.verb, row.actor_label) == ("engage", "system: score over 50")


@pytest.mark.postgres
@pytest.mark.redis
def test_a_worker_reports_a_refused_move_without_retrying(worker, make_lead):
    lead = make_lead("customer")
    process = worker()
    move_lead.delay(lead.pk, "mql", "score over 50")
    wait_for(
        lambda: "refused: A lead in customer cannot move to mql" in process.log(),
        message="the refusal in the worker log",
    )
    assert Lead.objects.get(pk=lead.pk).stage == "customer"


def test_mail_goes_over_smtp_to_the_test_server(smtp_server):
    sent = mail.send_mail("Hello", "Body text", "handoff@example.com", ["lead@example.com"])
    assert sent == 1
    assert len(smtp_server.messages) == 1
    sender, recipients, raw = smtp_server.messages[0]
    assert (sender, recipients) == ("handoff@example.com", ["lead@example.com"])
    assert b"Subject: Hello" in raw


@pytest.mark.browser
def test_a_person_logs_in_in_a_real_browser(page, rep):
    log_in(page, "rep")
    assert page.get_by_role("heading", name="Good to see you, rep").is_visible()
    assert page.get_by_role("link", name="Work my MQLs").is_visible()
