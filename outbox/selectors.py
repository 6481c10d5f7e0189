"""Reading the outbox: which task messages are waiting, in flight, or past their attempts."""

import datetime as dt

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from .models import PendingTask

WAITING = "waiting"
SENT = "sent"
DEAD = "dead"
STATES = {
    WAITING: "Waiting to be sent",
    SENT: "Sent, not yet done",
    DEAD: "Past its attempts",
}


def _lease_start(now: dt.datetime | None) -> dt.datetime:
    now = now or timezone.now()
    return now - dt.timedelta(seconds=settings.HANDOFF_OUTBOX_LEASE_SECONDS)


def _dead(now: dt.datetime | None) -> Q:
    """Sent HANDOFF_OUTBOX_MAX_ATTEMPTS times and the last one not done within the lease:
    the sweep gives up on it, and only an admin sends it again."""
    return Q(attempts__gte=settings.HANDOFF_OUTBOX_MAX_ATTEMPTS) & (
        Q(sent_at__isnull=True) | Q(sent_at__lte=_lease_start(now))
    )


def pending_tasks_in_state(state: str, *, now: dt.datetime | None = None) -> QuerySet:
    rows = PendingTask.objects.all()
    if state == DEAD:
        return rows.filter(_dead(now))
    if state == WAITING:
        return rows.filter(sent_at__isnull=True).exclude(_dead(now))
    if state == SENT:
        return rows.filter(sent_at__isnull=False).exclude(_dead(now))
    raise ValueError(f"unknown outbox state {state!r}")


def pending_tasks_dead(*, now: dt.datetime | None = None) -> QuerySet:
    return pending_tasks_in_state(DEAD, now=now)


def pending_task_state(row: PendingTask, *, now: dt.datetime | None = None) -> str:
    if row.attempts >= settings.HANDOFF_OUTBOX_MAX_ATTEMPTS and (
        row.sent_at is None or row.sent_at <= _lease_start(now)
    ):
        return DEAD
    return WAITING if row.sent_at is None else SENT
