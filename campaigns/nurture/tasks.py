"""Thin tasks: the beat's tick hands due enrollments out in batches; a batch sends them;
the reconciler ends and starts enrollments whose on-commit end or start was lost.

All are safe to run twice: the tick's conditional update and the worker's claim (see
sending) make a second delivery of a batch, or a second beat, send nothing twice; the
reconciler enrolls a stay in nurture only where no enrollment started for it, under the
lead's row lock.
"""

import datetime as dt
import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.utils import timezone

from .sending import SendInterrupted, messages_send_due
from .services import enrollment_ends_reconcile, enrollments_queue_due, enrollments_reconcile

log = logging.getLogger(__name__)


def retry_countdown(retries: int) -> int:
    """Exponential backoff, never past half the broker's visibility timeout: a Redis
    message held unacked longer than that would be delivered a second time."""
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout", 3600)
    cap = min(settings.HANDOFF_NURTURE_RETRY_MAX_SECONDS, visibility // 2)
    return int(min(settings.HANDOFF_NURTURE_RETRY_BASE_SECONDS * 2**retries, cap))


@shared_task(name="nurture.tick", ignore_result=True)
def tick(now: str | None = None) -> str:
    at = dt.datetime.fromisoformat(now) if now else timezone.now()
    batches = enrollments_queue_due(now=at)
    return f"queued {sum(len(batch) for batch in batches)} in {len(batches)} batches"


@shared_task(name="nurture.reconcile", ignore_result=True)
def reconcile(now: str | None = None) -> int:
    at = dt.datetime.fromisoformat(now) if now else timezone.now()
    # Ends first: a lead that left nurture and came back holds its old enrollment active
    # until its end is made up, and a lead has one active enrollment.
    ended = enrollment_ends_reconcile(now=at)
    if ended:
        log.info("nurture: ended %d enrollments of leads that left nurture", ended)
    repaired = enrollments_reconcile(now=at)
    log.info("nurture: reconciled %d leads left in nurture without an enrollment", repaired)
    return repaired + ended


@shared_task(
    bind=True,
    name="nurture.send_batch",
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=settings.HANDOFF_NURTURE_MAX_RETRIES,
    soft_time_limit=settings.HANDOFF_NURTURE_SOFT_TIME_LIMIT,
    time_limit=settings.HANDOFF_NURTURE_SOFT_TIME_LIMIT + 30,
    ignore_result=True,
)
def send_batch(self, enrollment_ids: list[int], now: str) -> str:
    at = dt.datetime.fromisoformat(now)
    try:
        sent = messages_send_due(enrollment_ids=enrollment_ids, now=at)
    except SendInterrupted as exc:
        raise self.retry(
            args=(exc.remaining, now), countdown=retry_countdown(self.request.retries), exc=exc
        ) from exc
    except SoftTimeLimitExceeded as exc:
        # The enrollment in hand rolled back; the ones done are no longer due.
        raise self.retry(args=(enrollment_ids, now), countdown=1, exc=exc) from exc
    return f"sent {sent}"
