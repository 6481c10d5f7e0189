from celery import shared_task

from .errors import TransitionError
from .services import transition_lead


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
