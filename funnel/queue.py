"""The MQL queue: what a rep sees waiting for a decision, and decisions on many leads."""

import datetime as dt
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Count, F, Prefetch, Q, prefetch_related_objects
from django.utils import timezone

from leads.models import Lead
from leads.roles import is_manager
from leads.stages import Stage

from .criteria import active_criteria, criteria_results, meets_required
from .errors import TransitionError
from .models import WorkspaceSettings
from .services import transition_lead
from .sla import DUE_SOON_SHARE, SlaClock, imported_stay, sla_clock


@dataclass
class QueueRow:
    lead: Lead
    criteria: list[dict]
    meets_required: bool
    clock: SlaClock
    campaign: object | None = None


def queue_leads(user, *, sort: str = ""):
    """MQLs waiting for a decision, oldest first (or by predicted probability, highest
    first, unscored last): a rep's own and the unassigned ones; every MQL for a manager.
    The page shows them through `queue_view` (filters, the user's own first)."""
    leads = Lead.objects.filter(stage=Stage.MQL).select_related("owner", "prediction")
    if not is_manager(user):
        leads = leads.filter(Q(owner=user) | Q(owner__isnull=True))
    if sort == "probability":
        best = F("prediction__probability").desc(nulls_last=True)
        return leads.order_by(best, "stage_changed_at", "id")
    return leads.order_by("stage_changed_at", "id")


def _latest_campaign(lead: Lead):
    memberships = list(lead.memberships.all())
    if not memberships:
        return None
    return max(memberships, key=lambda m: (m.touched_at, m.pk)).campaign


def queue_rows(leads, *, now: dt.datetime | None = None) -> list[QueueRow]:
    """Rows for a page of queue leads: criteria, SLA clock and campaign, with a fixed number
    of queries whatever the page's size."""
    now = now or timezone.now()
    criteria = active_criteria()
    hours = WorkspaceSettings.load().sla_hours
    # Through the reverse relation: funnel does not import campaigns.
    membership_model = Lead.memberships.rel.related_model
    memberships = Prefetch(
        "memberships", queryset=membership_model.objects.select_related("campaign")
    )
    if isinstance(leads, list):
        # A page of the queue, already read: one more query tells the stays imports began.
        prefetch_related_objects(leads, memberships)
        imported = set(
            Lead.objects.filter(pk__in=[lead.pk for lead in leads])
            .filter(imported_stay())
            .values_list("pk", flat=True)
        )
        for lead in leads:
            lead.sla_imported = lead.pk in imported
    else:
        leads = leads.prefetch_related(memberships).annotate(sla_imported=imported_stay())
    rows = []
    for lead in leads:
        results = criteria_results(lead, criteria=criteria)
        rows.append(
            QueueRow(
                lead=lead,
                criteria=results,
                meets_required=meets_required(results),
                clock=sla_clock(
                    lead.stage_changed_at, hours=hours, now=now, imported=lead.sla_imported
                ),
                campaign=_latest_campaign(lead),
            )
        )
    return rows


def queue_row(lead_id: int, *, now: dt.datetime | None = None) -> QueueRow | None:
    leads = Lead.objects.filter(pk=lead_id).select_related("owner", "prediction")
    rows = queue_rows(leads, now=now)
    return rows[0] if rows else None


@dataclass
class BulkResult:
    done: list[dict] = field(default_factory=list)
    refused: list[dict] = field(default_factory=list)

    @property
    def results(self) -> list[dict]:
        return sorted(self.done + self.refused, key=lambda r: r["index"])


def leads_decide(
    *,
    lead_ids: list[int],
    to: str,
    actor,
    expected_from: str | None = None,
    reason=None,
    note: str = "",
    fields: dict | None = None,
) -> BulkResult:
    """The same decision on many leads, each in its own transaction: the allowed ones are
    done, each refused one is reported with its status, code and message."""
    limit = settings.HANDOFF_BULK_MAX
    if len(lead_ids) > limit:
        from .errors import InvalidTransition

        raise InvalidTransition(
            f"At most {limit} leads at once.", errors={"leads": [f"Send at most {limit} ids."]}
        )
    outcome = BulkResult()
    for index, lead_id in enumerate(dict.fromkeys(lead_ids)):
        try:
            row = transition_lead(
                lead_id=lead_id,
                to=to,
                actor=actor,
                expected_from=expected_from,
                reason=reason,
                note=note,
                fields=fields,
            )
        except TransitionError as exc:
            outcome.refused.append(
                {
                    "index": index,
                    "lead": lead_id,
                    "status": exc.status,
                    "code": exc.code,
                    "detail": exc.message,
                    "errors": exc.errors,
                }
            )
        else:
            outcome.done.append({"index": index, "lead": lead_id, "status": 201, "row": row})
    return outcome


# --- filters: who, campaign, source, age, SLA state, with counts ---------------------------

OWNER_CHOICES = ("me", "none", "all")
AGE_CHOICES = {
    "day": "Under a day",
    "week": "1 to 7 days",
    "older": "Over 7 days",
}
SLA_CHOICES = {"ok": "Within SLA", "due_soon": "Due soon", "breached": "SLA breached"}


@dataclass
class QueueFilters:
    """What the queue shows, from the query string; a bad value is reported, never a 500."""

    owner: str = "all"  # me, none, all, or (managers) a username
    campaign: str = ""
    source: str = ""
    age: str = ""
    sla: str = ""
    sort: str = ""  # "" (oldest first) or "probability" (highest predicted chance first)
    errors: dict = field(default_factory=dict)

    @classmethod
    def from_query(cls, data, *, user) -> "QueueFilters":
        filters = cls()
        errors = {}
        owner = (data.get("owner") or "all").strip()
        if owner not in OWNER_CHOICES:
            if is_manager(user) and len(owner) <= 150:
                filters.owner = owner
            else:
                errors["owner"] = "Choose mine, unassigned or all."
        else:
            filters.owner = owner
        filters.campaign = (data.get("campaign") or "").strip()[:100]
        filters.source = (data.get("source") or "").strip()[:150]
        age = data.get("age") or ""
        if age and age not in AGE_CHOICES:
            errors["age"] = f"Choose one of {', '.join(AGE_CHOICES)}."
        else:
            filters.age = age
        sla = data.get("sla") or ""
        if sla and sla not in SLA_CHOICES:
            errors["sla"] = f"Choose one of {', '.join(SLA_CHOICES)}."
        else:
            filters.sla = sla
        filters.sort = "probability" if data.get("sort") == "probability" else ""
        filters.errors = errors
        return filters

    def query(self, **changes) -> str:
        """This filter set as a query string, with some values changed (for links)."""
        from django.http import QueryDict

        values = {
            "owner": self.owner,
            "campaign": self.campaign,
            "source": self.source,
            "age": self.age,
            "sla": self.sla,
            "sort": self.sort,
        }
        values.update({name: value for name, value in changes.items() if name in values})
        query = QueryDict(mutable=True)
        for name, value in values.items():
            if value:
                query[name] = value
        return query.urlencode()


def _owner_q(user, owner: str) -> Q:
    if owner == "me":
        return Q(owner=user)
    if owner == "none":
        return Q(owner__isnull=True)
    if owner == "all":
        return Q()
    return Q(owner__username=owner)


def _age_q(age: str, now: dt.datetime) -> Q:
    day, week = now - dt.timedelta(days=1), now - dt.timedelta(days=7)
    return {
        "": Q(),
        "day": Q(stage_changed_at__gt=day),
        "week": Q(stage_changed_at__lte=day, stage_changed_at__gt=week),
        "older": Q(stage_changed_at__lte=week),
    }[age]


def _sla_q(sla: str, now: dt.datetime, hours: int) -> Q:
    limit = dt.timedelta(hours=hours)
    breached, soon = now - limit, now - limit * DUE_SOON_SHARE
    return {
        "": Q(),
        "ok": Q(stage_changed_at__gt=soon),
        "due_soon": Q(stage_changed_at__lte=soon, stage_changed_at__gt=breached),
        "breached": Q(stage_changed_at__lte=breached),
    }[sla]


def _scoped(user, filters: QueueFilters):
    """MQLs the user may see, narrowed by campaign and source (the filters without counts)."""
    leads = queue_leads(user, sort=filters.sort)
    if filters.campaign:
        membership_model = Lead.memberships.rel.related_model
        members = membership_model.objects.filter(campaign__slug=filters.campaign)
        leads = leads.filter(pk__in=members.values("lead_id"))
    if filters.source:
        leads = leads.filter(source__iexact=filters.source)
    return leads


@dataclass
class QueueView:
    """One filtered queue: its leads (the user's own first, then oldest first) and the
    counts of every filter choice, from one aggregate query."""

    leads: "_OwnFirst"
    total: int
    counts: dict


class _OwnFirst:
    """The user's own leads oldest first, then the others oldest first, as one sliceable
    sequence for the paginator: two index-ordered queries with LIMIT, never a sort of
    every waiting MQL."""

    def __init__(self, mine, others, mine_count: int, total: int):
        self.mine, self.others = mine, others
        self.mine_count, self.total = mine_count, total

    def count(self) -> int:
        return self.total

    def __len__(self) -> int:
        return self.total

    def __getitem__(self, bounds):
        if not isinstance(bounds, slice):
            return next(iter(self[bounds : bounds + 1]))
        start, stop = bounds.start or 0, bounds.stop if bounds.stop is not None else self.total
        rows = []
        if start < self.mine_count:
            rows += list(self.mine[start : min(stop, self.mine_count)])
        rest_start = max(start - self.mine_count, 0)
        rest_stop = stop - self.mine_count
        if rest_stop > rest_start:
            rows += list(self.others[rest_start:rest_stop])
        return rows


def queue_view(user, filters: QueueFilters, *, now: dt.datetime | None = None) -> QueueView:
    now = now or timezone.now()
    hours = WorkspaceSettings.load().sla_hours
    scoped = _scoped(user, filters)
    owner_q = _owner_q(user, filters.owner)
    age_q = _age_q(filters.age, now)
    sla_q = _sla_q(filters.sla, now, hours)
    selected = owner_q & age_q & sla_q
    aggregates = {
        "total": Count("stage", filter=selected),
        "mine_selected": Count("stage", filter=selected & Q(owner=user)),
        "all": Count("stage", filter=age_q & sla_q),
    }
    for owner in ("me", "none"):
        aggregates[f"owner_{owner}"] = Count("stage", filter=_owner_q(user, owner) & age_q & sla_q)
    for age in AGE_CHOICES:
        aggregates[f"age_{age}"] = Count("stage", filter=owner_q & _age_q(age, now) & sla_q)
    for sla in SLA_CHOICES:
        aggregates[f"sla_{sla}"] = Count("stage", filter=owner_q & age_q & _sla_q(sla, now, hours))
    # COUNT(stage): a column of the index, so PostgreSQL counts from the index alone.
    counts = scoped.order_by().aggregate(**aggregates)
    chosen = scoped.filter(selected)
    leads = _OwnFirst(
        chosen.filter(owner=user),
        chosen.exclude(owner=user) if filters.owner != "me" else chosen.none(),
        counts["mine_selected"],
        counts["total"],
    )
    return QueueView(leads=leads, total=counts["total"], counts=counts)


def queue_campaigns():
    """Campaigns for the filter, by name (through the membership relation: funnel does not
    import campaigns)."""
    membership_model = Lead.memberships.rel.related_model
    campaign_model = membership_model._meta.get_field("campaign").related_model
    return campaign_model.objects.order_by("name").only("name", "slug")


def queue_sources() -> list[str]:
    """The sources of waiting MQLs, cached for a minute (one grouped scan of the MQLs)."""
    from django.core.cache import cache

    def read():
        values = (
            Lead.objects.filter(stage=Stage.MQL)
            .exclude(source="")
            .order_by("source")
            .values_list("source", flat=True)
            .distinct()[:200]
        )
        return list(values)

    return cache.get_or_set("handoff-queue-sources", read, 60)
