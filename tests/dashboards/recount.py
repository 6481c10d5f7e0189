"""An independent recount of the funnel from the log, lead by lead, to check the rollups."""

import itertools
import statistics
from collections import Counter

from django.db.models import Prefetch
from django.utils import timezone

from campaigns.models import CampaignMembership
from funnel.models import Transition
from leads.models import Lead
from leads.stages import BUCKETS, FORWARD_PATH, FORWARD_RANK, Stage
from reporting.models import LeadFact
from reporting.services import TABLES


def _in_scope(lead, rows, *, campaign, source, owner, since, until, user):
    if campaign and campaign not in {m.campaign.slug for m in lead.memberships.all()}:
        return False
    if source and (lead.source or "").lower() != source.lower():
        return False
    if owner == "me" and lead.owner_id != user.pk:
        return False
    if owner == "none" and lead.owner_id is not None:
        return False
    if owner not in (None, "", "me", "none") and (
        lead.owner is None or lead.owner.username != owner
    ):
        return False
    entered = timezone.localtime(rows[0].at, timezone.get_default_timezone()).date()
    if since and entered < since:
        return False
    return not (until and entered > until)


def _median_days(seconds: list[int]) -> float | None:
    """The exact median of per-lead durations, in days to one decimal, as the pages show."""
    return round(statistics.median(seconds) / 86400, 1) if seconds else None


def _scoped_leads(filters: dict):
    """(lead, its log rows oldest first) for every lead in scope."""
    leads = Lead.objects.select_related("owner").prefetch_related(
        Prefetch("transitions", queryset=Transition.objects.order_by("at", "id")),
        Prefetch("memberships", queryset=CampaignMembership.objects.select_related("campaign")),
    )
    for lead in leads:
        rows = list(lead.transitions.all())
        if rows and _in_scope(lead, rows, **filters):
            yield lead, rows


def recount_days_in(*, campaign=None, source=None, owner=None, since=None, until=None, user=None):
    """The median days of each stay in each stage (a stay ends at the lead's next log row),
    from the log, lead by lead."""
    filters = dict(campaign=campaign, source=source, owner=owner, since=since, until=until)
    stays: dict[str, list[int]] = {stage: [] for stage in Stage.values}
    for _lead, rows in _scoped_leads({**filters, "user": user}):
        for stay, following in itertools.pairwise(rows):
            stays[stay.to_stage].append(int((following.at - stay.at).total_seconds()))
    return {stage: _median_days(values) for stage, values in stays.items()}


def recount(*, campaign=None, source=None, owner=None, since=None, until=None, user=None):
    stages = Counter()
    reached = Counter()
    deals = Counter()
    durations = {stage: [] for stage in FORWARD_PATH[1:]}
    # Prefetched, ordered as the log is read: one query per table, not per lead (the soak
    # recounts thousands of leads).
    leads = Lead.objects.select_related("owner").prefetch_related(
        Prefetch("transitions", queryset=Transition.objects.order_by("at", "id")),
        Prefetch("memberships", queryset=CampaignMembership.objects.select_related("campaign")),
    )
    for lead in leads:
        rows = list(lead.transitions.all())
        if not rows or not _in_scope(
            lead,
            rows,
            campaign=campaign,
            source=source,
            owner=owner,
            since=since,
            until=until,
            user=user,
        ):
            continue
        stages[lead.stage] += 1
        if any(r.to_stage == "customer" for r in rows):
            deals["won"] += 1
        elif any(r.from_stage == "opportunity" and r.to_stage == "nurture" for r in rows):
            deals["lost"] += 1
        ranks = [FORWARD_RANK[r.to_stage] for r in rows if r.to_stage in FORWARD_RANK]
        furthest = max(ranks, default=-1)
        for rank in range(furthest + 1):
            reached[FORWARD_PATH[rank]] += 1
            if rank:
                first = min(r.at for r in rows if FORWARD_RANK.get(r.to_stage, -1) >= rank)
                seconds = int((first - rows[0].at).total_seconds())
                durations[FORWARD_PATH[rank]].append(seconds)
    stage_counts = {stage: stages[stage] for stage in Stage.values}
    reached_counts = {stage: reached[stage] for stage in FORWARD_PATH}
    days_to = {stage: _median_days(values) for stage, values in durations.items()}
    return {
        **{b: sum(stage_counts[s] for s in members) for b, members in BUCKETS.items()},
        "stages": stage_counts,
        "reached": reached_counts,
        "conversion": {
            f"{a}->{b}": round(reached_counts[b] / reached_counts[a], 4)
            if reached_counts[a]
            else None
            for a, b in itertools.pairwise(FORWARD_PATH)
        },
        "win_rate": round(deals["won"] / (deals["won"] + deals["lost"]), 4)
        if deals["won"] + deals["lost"]
        else None,
        "won_deals": deals["won"],
        "lost_deals": deals["lost"],
        "days_to": days_to,
    }


def rollup_state() -> dict:
    """Every non-zero rollup row and every fact, for comparing two ways of building them."""
    state = {}
    for table, (model, extra, values) in TABLES.items():
        for row in model.objects.values():
            numbers = tuple(row[v] for v in values)
            if any(numbers):
                key = (
                    table,
                    row["grain"],
                    row["period"],
                    row["campaign_key"],
                    row["source_key"],
                    row["owner_key"],
                    *(row[e] for e in extra),
                )
                state[key] = numbers
    for fact in LeadFact.objects.all():
        state[("fact", fact.lead_id)] = (
            fact.entered_at,
            fact.entered_on,
            fact.stage,
            fact.stage_since,
            fact.furthest,
            fact.source_key,
            fact.owner_key,
            sorted(fact.campaigns),
            fact.contribution,
        )
    return state
