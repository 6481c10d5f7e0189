"""The real thing: a Celery worker process on Redis and PostgreSQL, a real SMTP server."""

import datetime as dt
import re

import pytest
from django.utils import timezone

from campaigns.nurture.models import Enrollment, Message, Programme, Step
from campaigns.nurture.services import enrollments_queue_due
from campaigns.nurture.tasks import send_batch
from leads.models import Lead
from outbox.models import PendingTask
from tests.services import wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

MESSAGE_ID = re.compile(rb"^Message-ID: (<[^>]+>)", re.MULTILINE)


def due_enrollments(count: int, at: dt.datetime) -> list[int]:
    """`count` leads in nurture with one due e-mail step (set up in bulk: the worker is
    what is under test here)."""
    programme = Programme.objects.create(name="Worker test", exits=["mql"])
    Step.objects.create(
        programme=programme, position=0, kind="email", subject="Hi {{ lead.first_name }}", body="x"
    )
    leads = Lead.objects.bulk_create(
        [Lead(email=f"w{i}@example.com", first_name=f"W{i}", stage="nurture") for i in range(count)]
    )
    rows = Enrollment.objects.bulk_create(
        [
            Enrollment(lead=lead, programme=programme, from_stage="mql", next_due_at=at)
            for lead in leads
        ]
    )
    return [row.pk for row in rows]


def all_committed(count: int) -> bool:
    """The server's 250 comes just before the worker's commit: wait for the commit."""
    return (
        Message.objects.count() >= count and not Enrollment.objects.filter(status="active").exists()
    )


def message_ids(smtp_server) -> list[bytes]:
    return [MESSAGE_ID.search(raw).group(1) for _, _, raw in smtp_server.messages]


def test_it_sends_exactly_once_when_the_worker_is_killed_mid_batch(smtp_server, worker, settings):
    settings.HANDOFF_NURTURE_BATCH_SIZE = 100
    now = timezone.now()
    count = 300
    due_enrollments(count, now)
    # Killed with the 11th message in flight: the server holds it unanswered, so the kill
    # lands mid-batch, mid-message, every time (a kill between a 250 and the COMMIT that
    # follows it would send that one message again: the window every SMTP sender has).
    smtp_server.hold_after = 10
    process = worker()
    enrollments_queue_due(now=now)
    wait_for(smtp_server.holding.is_set, message="the 11th message in flight")
    process.kill()
    smtp_server.release.set()
    assert len(smtp_server.messages) == 10

    # The batches of the dead worker are handed out again after their lease.
    worker()
    later = now + dt.timedelta(seconds=settings.HANDOFF_NURTURE_LEASE_SECONDS + 1)
    assert enrollments_queue_due(now=later)
    wait_for(lambda: len(smtp_server.messages) >= count, message=f"{count} messages")
    wait_for(lambda: all_committed(count), message="the last commits")
    assert enrollments_queue_due(now=later + dt.timedelta(days=1)) == []

    ids = message_ids(smtp_server)
    assert len(ids) == count
    assert len(set(ids)) == count
    assert Message.objects.count() == count
    assert set(Enrollment.objects.values_list("status", flat=True)) == {"completed"}


def test_a_batch_delivered_twice_sends_once(smtp_server, worker):
    now = timezone.now()
    ids = due_enrollments(40, now)
    process = worker(concurrency=2)
    send_batch.delay(ids, now.isoformat())
    send_batch.delay(ids, now.isoformat())
    wait_for(lambda: process.log().count("succeeded") >= 2, message="both deliveries done")
    wait_for(lambda: all_committed(40), message="the commits")
    assert len(smtp_server.messages) == 40
    assert len(set(message_ids(smtp_server))) == 40


def test_two_beats_ticking_send_each_message_once(smtp_server, worker):
    due_enrollments(60, timezone.now())
    first = worker(beat=True, HANDOFF_NURTURE_TICK_SECONDS=1)
    second = worker(beat=True, HANDOFF_NURTURE_TICK_SECONDS=1)

    def ticks(process):
        return process.log().count("Sending due task nurture-tick")

    wait_for(lambda: len(smtp_server.messages) >= 60, message="60 messages")
    wait_for(lambda: all_committed(60), message="the commits")
    seen = (ticks(first), ticks(second))
    wait_for(
        lambda: ticks(first) >= seen[0] + 2 and ticks(second) >= seen[1] + 2,
        message="two more ticks from each beat",
    )
    assert len(smtp_server.messages) == 60
    assert len(set(message_ids(smtp_server))) == 60
    assert Message.objects.count() == 60


def test_it_retries_after_an_smtp_error(smtp_server, worker):
    now = timezone.now()
    [enrollment_id] = due_enrollments(1, now)
    smtp_server.fail_next = 1
    worker(HANDOFF_NURTURE_RETRY_BASE_SECONDS=1)
    enrollments_queue_due(now=now)
    wait_for(lambda: len(smtp_server.messages) == 1, message="the message after a retry")
    wait_for(lambda: all_committed(1), message="the commit")
    enrollment = Enrollment.objects.get(pk=enrollment_id)
    assert "451" in enrollment.last_error  # the first attempt was refused...
    assert smtp_server.fail_next == 0
    assert enrollment.status == "completed"  # ...and the retry sent it, once
    assert Message.objects.count() == 1
    assert len(smtp_server.messages) == 1


def test_two_ticks_at_the_same_moment_hand_out_disjoint_batches(
    transactional_db, monkeypatch, settings
):
    import threading

    from django.db import connection

    settings.HANDOFF_NURTURE_BATCH_SIZE = 25
    now = timezone.now()
    due_enrollments(400, now)
    # The batches are read from the outbox; nothing goes to a broker.
    monkeypatch.setattr("outbox.services._publish", lambda pk, name, args: None)
    start = threading.Barrier(2)

    def beat():
        try:
            start.wait()
            enrollments_queue_due(now=now)
        finally:
            connection.close()

    threads = [threading.Thread(target=beat) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    handed = PendingTask.objects.filter(task=send_batch.name).values_list("args", flat=True)
    ids = [pk for args in handed for pk in args[0]]
    assert len(ids) == 400
    assert len(set(ids)) == 400
