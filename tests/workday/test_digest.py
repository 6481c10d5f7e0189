"""The morning digest: one e-mail per rep per day over SMTP, never one per task."""

import datetime as dt
import email
import re

import pytest
from django.utils import timezone

from funnel.models import DigestSent, Task
from funnel.my_day import digest_send, digests_send


def body_of(raw: bytes) -> str:
    message = email.message_from_bytes(raw)
    return message.get_payload(decode=True).decode()


@pytest.fixture
def busy_day(make_lead, rep, rep2):
    """rep: two overdue tasks, one later today (or tomorrow), one MQL; rep2: one MQL only."""
    now = timezone.now()
    lead = make_lead("sal", owner=rep, first_name="Ada", last_name="King")
    for title in ("Call Ada", "Mail Ada"):
        Task.objects.create(lead=lead, title=title, due_at=now - dt.timedelta(hours=3), owner=rep)
    Task.objects.create(lead=lead, title="Done one", due_at=now, owner=rep, done_at=now)
    make_lead("mql", owner=rep, first_name="Mo", last_name="Quill")
    make_lead("mql", owner=rep2, first_name="Ren", last_name="Two")
    return lead


def test_it_sends_one_e_mail_per_rep_with_their_tasks_and_mqls(smtp_server, busy_day, rep, rep2):
    assert digests_send() == 2
    assert len(smtp_server.messages) == 2
    by_recipient = {tuple(rcpt): raw for _, rcpt, raw in smtp_server.messages}
    mine = body_of(by_recipient[(rep.email,)])
    assert "Overdue tasks: 2" in mine and "Call Ada" in mine and "Mail Ada" in mine
    assert "Done one" not in mine
    assert "Mo Quill" in mine and "Ren Two" not in mine
    assert re.search(r"http://[^\s]+/my-day/", mine)
    theirs = body_of(by_recipient[(rep2.email,)])
    assert "Ren Two" in theirs and "Call Ada" not in theirs
    subject = email.message_from_bytes(by_recipient[(rep.email,)])["Subject"]
    assert subject.startswith("Your day: 2 overdue")


def test_a_second_run_on_the_same_day_sends_nothing(smtp_server, busy_day, rep):
    digests_send()
    digests_send()
    assert len(smtp_server.messages) == 2
    assert DigestSent.objects.filter(sent_at__isnull=False).count() == 2
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    digests_send(day=tomorrow)
    assert len(smtp_server.messages) == 4


def test_a_rep_with_nothing_to_do_gets_no_e_mail(smtp_server, rep):
    assert digests_send() == 0
    assert smtp_server.messages == []
    assert DigestSent.objects.get(user=rep).sent_at is None


def test_a_failed_send_gives_the_claim_back_and_the_retry_sends_it(smtp_server, busy_day, rep):
    smtp_server.fail_next = 1
    with pytest.raises(OSError):
        digest_send(user=rep, day=timezone.localdate())
    assert not DigestSent.objects.filter(user=rep).exists()
    assert digest_send(user=rep, day=timezone.localdate()) is True
    assert len(smtp_server.messages) == 1


@pytest.mark.postgres
@pytest.mark.redis
def test_a_real_worker_sends_each_rep_one_digest_when_beat_fires_twice(
    worker, smtp_server, make_lead, rep, rep2
):
    from funnel.tasks import send_morning_digests
    from tests.services import wait_for

    now = timezone.now()
    lead = make_lead("sal", owner=rep)
    for number in range(5):
        Task.objects.create(lead=lead, title=f"Task {number}", due_at=now, owner=rep)
    make_lead("mql", owner=rep2)
    process = worker(concurrency=2)
    send_morning_digests.delay()
    send_morning_digests.delay()

    def settled():
        done = re.findall(r"Task funnel\.send_morning_digests\[[^\]]+\] succeeded", process.log())
        return len(done) == 2

    wait_for(settled, timeout=60, message="both digest runs finished")
    recipients = sorted(tuple(rcpt) for _, rcpt, _ in smtp_server.messages)
    assert recipients == sorted([(rep.email,), (rep2.email,)])
    assert DigestSent.objects.filter(sent_at__isnull=False).count() == 2


def test_beat_has_a_morning_entry():
    from config.celery import app

    entry = app.conf.beat_schedule["funnel-morning-digests"]
    assert entry["task"] == "funnel.send_morning_digests"
    assert entry["schedule"].hour == {7}


def test_a_digest_hour_out_of_range_stops_the_start():
    import os
    import subprocess
    import sys

    from tests.services import ROOT

    env = {**os.environ, "DEBUG": "1", "HANDOFF_DIGEST_HOUR": "25"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "HANDOFF_DIGEST_HOUR is 0-23" in result.stderr
