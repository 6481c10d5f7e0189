"""The outbox: task messages that outlive a broker outage.

`task_enqueue_on_commit` is `delay_on_commit` with a net: the message is also a row written
in the caller's transaction. It is sent when the transaction commits, as before; if the
broker is down then, the commit (and the user's request) still succeeds and the row waits.
A worker deletes the row once it has run the task. Beat's sweep (`outbox.send_pending`)
sends again every row the broker never took, and every row sent long ago and never done
(Redis restarted empty, a worker SIGKILLed before it acknowledged). So a message can arrive
twice, never zero times: every task queued this way is idempotent (a claim by conditional
update, a unique row, or a recount) and a second delivery does nothing twice.
"""

import datetime as dt
import logging
from collections.abc import Sequence
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from .models import PendingTask
from .selectors import lease_over, pending_tasks_dead

log = logging.getLogger(__name__)

# The message header that names the row; a retry of the task carries it along.
HEADER = "handoff_pending_task"


def task_enqueue_on_commit(*, task, args: Sequence = ()) -> PendingTask:
    """Queue `task(*args)` once the current transaction commits, durably."""
    row = PendingTask.objects.create(task=task.name, args=list(args))
    transaction.on_commit(partial(_send_after_commit, row.pk, task.name, list(args)))
    return row


def _publish(pk: int, name: str, args: list) -> None:
    from config.celery import app

    if app.conf.task_always_eager:
        app.tasks[name].apply_async(args=args, headers={HEADER: pk})
        return
    # By name: the sweep sends tasks this process may never have imported. No publish
    # retries: a request must not wait on a dead broker; the sweep retries.
    app.send_task(name, args=args, headers={HEADER: pk}, retry=False)


def _mark_sent(pk: int, now: dt.datetime) -> None:
    PendingTask.objects.filter(pk=pk).update(sent_at=now, attempts=F("attempts") + 1)


def _send_after_commit(pk: int, name: str, args: list) -> None:
    from config.celery import app

    if app.conf.task_always_eager:  # in-process runs: a task's error is the caller's
        _publish(pk, name, args)
        return
    try:
        _publish(pk, name, args)
        _mark_sent(pk, timezone.now())
    except Exception:
        # The change is committed and the row holds the message: the sweep sends it.
        log.warning("outbox: could not send %s #%s now; the sweep will", name, pk, exc_info=True)


def pending_tasks_send(*, now: dt.datetime | None = None, limit: int = 1000) -> int:
    """What beat runs: send what the broker never took, and what was never done after the
    lease (the task's time limit when that is longer: `selectors.task_lease_seconds`).
    Stops at the first broker error (the rest waits for the next sweep)."""
    now = now or timezone.now()
    unsent = Q(sent_at__isnull=True, created_at__lte=now - _seconds("GRACE"))
    lost = lease_over(now)
    sent = 0
    with transaction.atomic():
        rows = list(
            PendingTask.objects.filter(unsent | lost)
            .filter(attempts__lt=settings.HANDOFF_OUTBOX_MAX_ATTEMPTS)
            .select_for_update(skip_locked=True)
            .order_by("id")[:limit]
        )
        for row in rows:
            try:
                _publish(row.pk, row.task, row.args)
            except Exception:
                log.warning("outbox: the broker refused %s #%s", row.task, row.pk, exc_info=True)
                break
            _mark_sent(row.pk, now)
            sent += 1
    _warn_of_dead_rows(now)
    return sent


def _warn_of_dead_rows(now: dt.datetime) -> None:
    dead = pending_tasks_dead(now=now).count()
    if dead:
        log.error(
            "outbox: %d task message(s) past their %d attempts, not sent again by the sweep;"
            " see /admin/outbox/pendingtask/?state=dead, or run"
            " `manage.py outbox_resend --all-dead`",
            dead,
            settings.HANDOFF_OUTBOX_MAX_ATTEMPTS,
        )


class ResendFailed(Exception):
    """The broker refused a message an admin asked to send again."""


def pending_tasks_resend(*, ids: Sequence[int], now: dt.datetime | None = None) -> int:
    """An admin's resend (the admin's action, `manage.py outbox_resend`): these rows are
    sent now, whatever their attempts, and counted from one again, so the sweep looks after
    them as after a new message if this send is lost too. Raises ResendFailed at the first
    broker error; the rows sent before it stay sent."""
    now = now or timezone.now()
    sent = 0
    with transaction.atomic():
        rows = list(PendingTask.objects.filter(pk__in=list(ids)).select_for_update().order_by("id"))
        for row in rows:
            try:
                _publish(row.pk, row.task, row.args)
            except Exception as exc:
                raise ResendFailed(
                    f"The broker refused {row.task} #{row.pk} ({exc.__class__.__name__}: "
                    f"{exc}); {sent} sent before it."
                ) from exc
            PendingTask.objects.filter(pk=row.pk).update(sent_at=now, attempts=1)
            sent += 1
    if sent:
        log.info("outbox: %d task message(s) sent again by an admin", sent)
    return sent


def _seconds(name: str) -> dt.timedelta:
    return dt.timedelta(seconds=getattr(settings, f"HANDOFF_OUTBOX_{name}_SECONDS"))


def _pending_id(request) -> int | None:
    value = getattr(request, HEADER, None) or (getattr(request, "headers", None) or {}).get(HEADER)
    return int(value) if value else None


def pending_task_done(sender=None, task=None, state=None, **kwargs) -> None:
    """task_postrun: the task ran (or failed for good): its row is done. A retry keeps it;
    a worker killed mid-task never gets here, so its row is sent again after the lease."""
    pk = _pending_id(task.request) if task is not None else None
    if pk is None or state == "RETRY":
        return
    try:
        PendingTask.objects.filter(pk=pk).delete()
    except Exception:
        log.warning("outbox: could not close #%s; it will run again after the lease", pk)
