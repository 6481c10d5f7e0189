import datetime as dt
import logging

from celery import shared_task
from django.utils import timezone

from .errors import TransitionError
from .services import transition_lead
from .sla import sla_breach_notify, sla_breaches_find, sla_breaches_notify

log = logging.getLogger(__name__)


@shared_task(name="funnel.move_lead")
def move_lead(lead_id: int, to: str, system_actor: str, expected_from: str | None = None) -> str:
    """A system transition made by a worker (engage on a score, recycle on re-engagement).

    A refusal is an answer, not a failure: the lead moved on or the move is not allowed,
    and retrying would not change that.
    """
    try:
        row = transition_lead(
            lead_id=lead_id, to=to, system_actor=system_actor, expected_from=expected_from
        )
    except TransitionError as exc:
        return f"refused: {exc.message}"
    return f"moved: transition {row.pk}"


@shared_task(name="funnel.reconcile_assignments", ignore_result=True)
def reconcile_assignments(now: str | None = None) -> int:
    """Beat: MQLs whose on-commit round-robin assignment was lost get their owner."""
    from .assignment import assignments_reconcile

    at = dt.datetime.fromisoformat(now) if now else timezone.now()
    repaired = assignments_reconcile(now=at)
    if repaired:
        log.info("funnel: reconciled %d MQLs left unassigned by a lost round robin", repaired)
    return repaired


@shared_task(name="funnel.find_sla_breaches")
def find_sla_breaches() -> int:
    """Beat: mark MQLs past the SLA and queue ONE digest task for the unsent breaches (one
    e-mail per recipient, whatever the number of leads)."""
    pending = sla_breaches_find()
    if pending:
        notify_sla_digest.delay(pending)
    return len(pending)


@shared_task(
    name="funnel.notify_sla_digest",
    autoretry_for=(OSError,),
    retry_backoff=30,
    retry_backoff_max=600,
    max_retries=8,
)
def notify_sla_digest(breach_ids: list[int]) -> int:
    return sla_breaches_notify(breach_ids=breach_ids)


@shared_task(
    name="funnel.notify_sla_breach",
    autoretry_for=(OSError,),
    retry_backoff=30,
    retry_backoff_max=600,
    max_retries=8,
)
def notify_sla_breach(breach_id: int) -> bool:
    """Kept for messages queued before digests: a digest of one breach."""
    return sla_breach_notify(breach_id=breach_id)


@shared_task(
    name="funnel.send_morning_digests",
    autoretry_for=(OSError,),
    retry_backoff=60,
    retry_backoff_max=900,
    max_retries=6,
)
def send_morning_digests() -> int:
    """Beat, each morning: one e-mail per rep, never one per task (funnel.my_day)."""
    from .my_day import digests_send

    return digests_send()
