"""Reads for the funnel: a lead's history, the actions a user may take, the funnel snapshot."""

import datetime as dt

from django.db.models import OuterRef, Subquery
from django.utils import timezone

from leads.models import Lead
from leads.roles import SALES_REP, roles_of
from leads.selectors import can_act_on, leads_by_owner
from leads.stages import BUCKETS, FORWARD_PATH

from .lifecycle import Rule, rules_from
from .models import PipelineStage, ReasonCode, Transition


def lead_history(lead: Lead):
    return lead.transitions.select_related("actor", "reason", "campaign").order_by("at", "id")


def actions_for(user, lead: Lead) -> list[Rule]:
    """The transitions this user may make on this lead now: what the lead page offers."""
    held = roles_of(user)
    actions = []
    for rule in rules_from(lead.stage):
        if not held & rule.roles:
            continue
        if rule.is_sales and SALES_REP in held and not can_act_on(user, lead):
            continue
        actions.append(rule)
    return actions


def reasons_for(verb: str) -> list[ReasonCode]:
    return [code for code in ReasonCode.objects.filter(is_active=True) if code.applies(verb)]


def active_pipeline_stages():
    return PipelineStage.objects.filter(is_active=True)


def day_bounds(since: dt.date | None, until: dt.date | None):
    """Dates in the installation's time zone, as an aware [start, end) range."""
    zone = timezone.get_current_timezone()
    start = dt.datetime.combine(since, dt.time.min, tzinfo=zone) if since else None
    end = (
        dt.datetime.combine(until + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
        if until
        else None
    )
    return start, end


def funnel_leads(*, campaign=None, source=None, owner=None, since=None, until=None, user=None):
    """The leads a funnel report covers: filtered, and limited to the cohort that entered
    the funnel (their first log row) between `since` and `until`."""
    leads = Lead.objects.all()
    if campaign:
        # Through the reverse relation: funnel does not import campaigns.
        members = Lead.objects.filter(memberships__campaign__slug=campaign).values("pk")
        leads = leads.filter(pk__in=members)
    if source:
        leads = leads.filter(source__iexact=source)
    if owner:
        leads = leads_by_owner(leads, owner, user)
    start, end = day_bounds(since, until)
    if start or end:
        entered = (
            Transition.objects.filter(lead=OuterRef("pk")).order_by("at", "id").values("at")[:1]
        )
        leads = leads.annotate(entered_at=Subquery(entered))
        if start:
            leads = leads.filter(entered_at__gte=start)
        if end:
            leads = leads.filter(entered_at__lt=end)
    return leads


def funnel_snapshot(**filters) -> dict:
    """The /api/funnel/ numbers, read from the dashboards' rollups of the log."""
    from .dashboards.selectors import funnel_snapshot as from_rollups

    return from_rollups(**filters)


def snapshot_rows(snapshot: dict) -> dict:
    """The snapshot as rows for a template: buckets, stages, and the cohort path with the
    conversion into each stage and the median days to reach it."""
    path = []
    for index, stage in enumerate(FORWARD_PATH):
        before = FORWARD_PATH[index - 1] if index else None
        path.append(
            {
                "stage": stage,
                "reached": snapshot["reached"][stage],
                "conversion": snapshot["conversion"].get(f"{before}->{stage}") if before else None,
                "days_to": snapshot["days_to"].get(stage),
            }
        )
    return {
        "buckets": [(bucket, snapshot[bucket]) for bucket in BUCKETS],
        "stages": list(snapshot["stages"].items()),
        "path": path,
    }
