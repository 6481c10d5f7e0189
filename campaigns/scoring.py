"""Lead scoring: engagement events add points; crossing the MQL threshold engages a suspect
or recycles a nurtured lead (actor: system, naming the rule).

This is the first cut (points per event, no decay, no fit rules); the marketing issue
extends it. Callers use `engagement_record` and nothing else.
"""

import contextlib
import datetime as dt

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from funnel.errors import TransitionError
from funnel.services import transition_lead
from leads.models import Lead
from leads.stages import Stage

from .models import EngagementEvent

# A lead in one of these stages moves to MQL when its score reaches the threshold.
THRESHOLD_MOVES = {Stage.SUSPECT: "engage", Stage.NURTURE: "recycle"}


def engagement_points(kind: str) -> int:
    return int(settings.HANDOFF_ENGAGEMENT_POINTS.get(kind, 0))


def lead_score(lead_id: int) -> int:
    total = EngagementEvent.objects.filter(lead_id=lead_id).aggregate(total=Sum("points"))["total"]
    return int(total or 0)


def engagement_record(
    *,
    lead_id: int,
    kind: str,
    at: dt.datetime | None = None,
    campaign=None,
    detail: str = "",
) -> EngagementEvent:
    """Record one engagement, rescore the lead, and move it to MQL if it crossed the threshold."""
    if kind not in EngagementEvent.Kind.values:
        raise ValueError(f"unknown engagement kind {kind!r}")
    at = at or timezone.now()
    with transaction.atomic():
        lead = Lead.objects.select_for_update(of=("self",)).get(pk=lead_id)
        event = EngagementEvent.objects.create(
            lead=lead,
            kind=kind,
            points=engagement_points(kind),
            at=at,
            campaign=campaign,
            detail=detail[:255],
        )
        lead.score = lead_score(lead.pk)
        lead.save(update_fields=["score", "updated_at"])
        threshold = settings.HANDOFF_MQL_THRESHOLD
        if lead.stage in THRESHOLD_MOVES and lead.score >= threshold:
            # If the lead moved on meanwhile the move is refused; the engagement still counts.
            with contextlib.suppress(TransitionError):
                transition_lead(
                    lead_id=lead.pk,
                    to=Stage.MQL,
                    system_actor=f"score {lead.score} ≥ {threshold} after {kind}",
                    expected_from=lead.stage,
                    campaign=campaign,
                    at=at,
                )
    return event
