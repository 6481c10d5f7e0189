"""The outbox on its own: what is kept when the broker is down, what the sweep sends."""

import datetime as dt

import pytest
import redis
from django.db import transaction
from django.utils import timezone

from campaigns.imports.tasks import run_import
from campaigns.nurture.tasks import tick
from outbox.models import PendingTask
from outbox.services import pending_tasks_send, task_enqueue_on_commit
from reporting.tasks import refresh_facts
from tests.services import broker_at, free_port


def queued(server, queue: str = "celery") -> int:
    return redis.Redis(port=server.port).llen(queue)


def test_it_keeps_the_message_when_the_broker_is_down(db, django_capture_on_commit_callbacks):
    dead = f"redis://127.0.0.1:{free_port()}/0"
    with broker_at(dead), django_capture_on_commit_callbacks(execute=True):
        task_enqueue_on_commit(task=refresh_facts, args=[[1, 2]])
    row = PendingTask.objects.get()
    assert (row.task, row.args, row.sent_at, row.attempts) == (
        "dashboards.refresh_facts",
        [[1, 2]],
        None,
        0,
    )


def test_it_sends_on_commit_and_not_before(db, private_redis, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        task_enqueue_on_commit(task=refresh_facts, args=[[1]])
        assert queued(private_redis) == 0
    assert queued(private_redis) == 1
    assert PendingTask.objects.get().attempts == 1


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_transaction_queues_nothing(private_redis):
    with pytest.raises(RuntimeError), transaction.atomic():
        task_enqueue_on_commit(task=refresh_facts, args=[[1]])
        raise RuntimeError
    assert not PendingTask.objects.exists()
    assert queued(private_redis) == 0


def test_the_sweep_sends_what_was_never_taken_or_never_done(db, private_redis, settings):
    now = timezone.now()
    long_ago = now - dt.timedelta(seconds=settings.HANDOFF_OUTBOX_LEASE_SECONDS + 1)
    just_now = now - dt.timedelta(seconds=1)
    rows = {
        "never sent": PendingTask(task="t", created_at=long_ago),
        "lost": PendingTask(task="t", created_at=long_ago, sent_at=long_ago, attempts=1),
        "in flight": PendingTask(task="t", created_at=long_ago, sent_at=just_now, attempts=1),
        "being sent on commit": PendingTask(task="t", created_at=just_now),
        "given up": PendingTask(
            task="t",
            created_at=long_ago,
            sent_at=long_ago,
            attempts=settings.HANDOFF_OUTBOX_MAX_ATTEMPTS,
        ),
    }
    PendingTask.objects.bulk_create(rows.values())
    assert pending_tasks_send(now=now) == 2
    assert queued(private_redis) == 2
    sent = {name for name, row in rows.items() if PendingTask.objects.get(pk=row.pk).sent_at == now}
    assert sent == {"never sent", "lost"}
    assert PendingTask.objects.get(pk=rows["lost"].pk).attempts == 2


def test_a_task_that_ran_closes_its_row(db, monkeypatch, django_capture_on_commit_callbacks):
    from config.celery import app

    monkeypatch.setitem(app.conf, "task_always_eager", True)  # the worker's code, in-process
    with django_capture_on_commit_callbacks(execute=True):
        task_enqueue_on_commit(task=refresh_facts, args=[[]])
        assert PendingTask.objects.exists()
    assert not PendingTask.objects.exists()


def test_what_the_outbox_sends_lands_on_the_queue_a_direct_call_would(
    db, private_redis, settings, django_capture_on_commit_callbacks
):
    def lengths() -> dict[str, int]:
        return {queue: queued(private_redis, queue) for queue in ("celery", "imports")}

    run_import.apply_async(args=[0])
    tick.apply_async()
    assert lengths() == {"celery": 1, "imports": 1}
    # On commit: send_task by name, routed as apply_async is.
    with django_capture_on_commit_callbacks(execute=True):
        task_enqueue_on_commit(task=run_import, args=[1])
        task_enqueue_on_commit(task=tick)
    assert lengths() == {"celery": 2, "imports": 2}
    # The sweep, sending again what the broker never took.
    long_ago = timezone.now() - dt.timedelta(seconds=settings.HANDOFF_OUTBOX_GRACE_SECONDS + 1)
    PendingTask.objects.update(sent_at=None, created_at=long_ago)
    assert pending_tasks_send() == 2
    assert lengths() == {"celery": 3, "imports": 3}
