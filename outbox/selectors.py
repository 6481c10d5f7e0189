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


def task_lease_seconds(name: str) -> int:
    """How long a sent message may stay undone before the sweep sends it again: the outbox
    lease, or the task's own time limit and a minute when that is longer (an import runs
    for up to HANDOFF_IMPORT_TIME_LIMIT_SECONDS, and is not sent again meanwhile)."""
    return _leases().get(name, settings.HANDOFF_OUTBOX_LEASE_SECONDS)


def _leases() -> dict[str, int]:
    """The tasks whose lease is longer than the outbox lease, by name."""
    from django.utils.module_loading import autodiscover_modules

    from config.celery import app

    autodiscover_modules("tasks")  # every app's tasks, in web processes too
    default = app.conf.task_time_limit or 0
    leases = {}
    for name, task in app.tasks.items():
        lease = int(getattr(task, "time_limit", None) or default) + 60
        if lease > settings.HANDOFF_OUTBOX_LEASE_SECONDS:
            leases[name] = lease
    return leases


def lease_over(now: dt.datetime | None = None) -> Q:
    """Rows sent longer ago than their task's lease."""
    now = now or timezone.now()
    leases = _leases()
    over = Q(sent_at__lte=now - dt.timedelta(seconds=settings.HANDOFF_OUTBOX_LEASE_SECONDS))
    if leases:
        over &= ~Q(task__in=list(leases))
    for name, seconds in leases.items():
        over |= Q(task=name, sent_at__lte=now - dt.timedelta(seconds=seconds))
    return over


def _dead(now: dt.datetime | None) -> Q:
    """Sent HANDOFF_OUTBOX_MAX_ATTEMPTS times and the last one not done within the lease:
    the sweep gives up on it, and only an admin sends it again."""
    return Q(attempts__gte=settings.HANDOFF_OUTBOX_MAX_ATTEMPTS) & (
        Q(sent_at__isnull=True) | lease_over(now)
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
    now = now or timezone.now()
    if row.attempts >= settings.HANDOFF_OUTBOX_MAX_ATTEMPTS and (
        row.sent_at is None
        or row.sent_at <= now - dt.timedelta(seconds=task_lease_seconds(row.task))
    ):
        return DEAD
    return WAITING if row.sent_at is None else SENT
