"""Lead scoring: fit rules plus engagement that decays; crossing the MQL threshold engages a
suspect or recycles a nurtured lead (actor: system, naming the rule).

- Fit: every active `ScoringRule` whose segment the lead is in adds its points.
- Engagement: every `EngagementEvent` adds its points, halved every
  `HANDOFF_SCORE_HALF_LIFE_DAYS` days (0 turns decay off).
- The score is computed for a moment (`now`), so tests and backfills run on their own clock.

Other apps call `engagement_record`; the pages show `score_breakdown`; a worker runs
`scores_recompute` when the rules change and once a day, as the decay moves scores down.
"""

import contextlib
import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from funnel.errors import TransitionError
from funnel.services import transition_lead
from leads.models import Lead
from leads.stages import Stage

from .models import EngagementEvent, ScoringRule
from .segments import conditions_q

# A lead in one of these stages moves to MQL when its score reaches the threshold.
THRESHOLD_MOVES = {Stage.SUSPECT: "engage", Stage.NURTURE: "recycle"}
RECOMPUTE_BATCH = 2000


def engagement_points(kind: str) -> int:
    return int(settings.HANDOFF_ENGAGEMENT_POINTS.get(kind, 0))


def half_life_days() -> float:
    return float(getattr(settings, "HANDOFF_SCORE_HALF_LIFE_DAYS", 0) or 0)


def decayed_points(points: int, at: dt.datetime, now: dt.datetime) -> float:
    """Points of an event at `at`, seen at `now`: halved every half-life."""
    half_life = half_life_days()
    if half_life <= 0 or now <= at:
        return float(points)
    age_days = (now - at).total_seconds() / 86400
    return points * 0.5 ** (age_days / half_life)


@dataclass
class Breakdown:
    """How a score was made: fit rules that matched, and each event's decayed points."""

    fit: list[tuple[ScoringRule, int]] = field(default_factory=list)
    engagement: list[tuple[EngagementEvent, float]] = field(default_factory=list)
    now: dt.datetime | None = None

    @property
    def fit_points(self) -> int:
        return sum(points for _, points in self.fit)

    @property
    def engagement_points(self) -> float:
        return sum(points for _, points in self.engagement)

    @property
    def total(self) -> int:
        return round(self.fit_points + self.engagement_points)


def _active_rules() -> list[ScoringRule]:
    return list(ScoringRule.objects.filter(is_active=True).select_related("segment"))


def _fit_for(lead_ids, rules: list[ScoringRule]) -> dict[int, list[tuple[ScoringRule, int]]]:
    """The fit rules each lead matches: one query per rule over the batch, in SQL."""
    matched: dict[int, list[tuple[ScoringRule, int]]] = defaultdict(list)
    for rule in rules:
        condition = conditions_q(rule.segment.conditions, rule.segment.match)
        ids = Lead.objects.filter(pk__in=lead_ids).filter(condition).values_list("pk", flat=True)
        for lead_id in ids:
            matched[lead_id].append((rule, rule.points))
    return matched


def score_breakdown(lead: Lead, now: dt.datetime | None = None) -> Breakdown:
    now = now or timezone.now()
    rules = _active_rules()
    events = EngagementEvent.objects.filter(lead_id=lead.pk, at__lte=now).select_related("campaign")
    return Breakdown(
        fit=_fit_for([lead.pk], rules).get(lead.pk, []),
        engagement=[(event, decayed_points(event.points, event.at, now)) for event in events],
        now=now,
    )


def lead_score(lead_id: int, now: dt.datetime | None = None) -> int:
    return score_breakdown(Lead(pk=lead_id), now).total


def _why(score: int, threshold: int, after: str, breakdown: Breakdown) -> str:
    why = f"score {score} ≥ {threshold} after {after}"
    if breakdown.fit:
        rules = ", ".join(f"{rule.name} {points:+d}" for rule, points in breakdown.fit)
        why = f"{why} (fit: {rules})"
    return why[:150]


def _threshold_move(lead: Lead, *, why: str, campaign=None, at: dt.datetime) -> bool:
    """Engage or recycle a lead whose score reached the threshold; False when refused."""
    if lead.stage not in THRESHOLD_MOVES or lead.score < settings.HANDOFF_MQL_THRESHOLD:
        return False
    # If the lead moved on meanwhile the move is refused; the score still counts.
    with contextlib.suppress(TransitionError):
        transition_lead(
            lead_id=lead.pk,
            to=Stage.MQL,
            system_actor=why,
            expected_from=lead.stage,
            campaign=campaign,
            at=at,
        )
        return True
    return False


def engagement_record(
    *,
    lead_id: int,
    kind: str,
    at: dt.datetime | None = None,
    campaign=None,
    detail: str = "",
) -> EngagementEvent:
    """Record one engagement, rescore the lead (as of `at`), and move it to MQL if it crossed
    the threshold."""
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
        breakdown = score_breakdown(lead, at)
        lead.score = breakdown.total
        lead.save(update_fields=["score", "updated_at"])
        threshold = settings.HANDOFF_MQL_THRESHOLD
        _threshold_move(
            lead, why=_why(lead.score, threshold, kind, breakdown), campaign=campaign, at=at
        )
    return event


def scores_recompute(*, now: dt.datetime | None = None, batch: int = RECOMPUTE_BATCH) -> dict:
    """Rescore every lead in batches (fit rules in SQL, decay in Python) and make the
    threshold moves the new scores call for. Returns what it did."""
    now = now or timezone.now()
    rules = _active_rules()
    threshold = settings.HANDOFF_MQL_THRESHOLD
    updated = moved = seen = 0
    last_pk = 0
    while True:
        leads = list(
            Lead.objects.filter(pk__gt=last_pk).order_by("pk").only("pk", "score", "stage")[:batch]
        )
        if not leads:
            break
        last_pk = leads[-1].pk
        seen += len(leads)
        ids = [lead.pk for lead in leads]
        fit = _fit_for(ids, rules)
        engagement: dict[int, float] = defaultdict(float)
        events = EngagementEvent.objects.filter(lead_id__in=ids, at__lte=now).values_list(
            "lead_id", "points", "at"
        )
        for lead_id, points, at in events:
            engagement[lead_id] += decayed_points(points, at, now)
        changed = []
        for lead in leads:
            breakdown = Breakdown(fit=fit.get(lead.pk, []))
            score = round(breakdown.fit_points + engagement.get(lead.pk, 0.0))
            if score != lead.score:
                lead.score = score
                changed.append(lead)
                if lead.stage in THRESHOLD_MOVES and score >= threshold:
                    why = _why(score, threshold, "rescoring", breakdown)
                    with transaction.atomic():
                        Lead.objects.filter(pk=lead.pk).update(score=score)
                        moved += _threshold_move(lead, why=why, at=now)
        Lead.objects.bulk_update(changed, ["score"])
        updated += len(changed)
    return {"leads": seen, "updated": updated, "moved": moved}
