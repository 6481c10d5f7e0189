"""Reads for the dashboards and /api/funnel/: every number comes from the rollups through
these functions, so the pages, their CSV downloads and the API agree to the lead."""

import datetime as dt
import hashlib
import itertools
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connection
from django.db.models import Count, Max, Min, Sum
from django.utils import timezone

from campaigns.models import Campaign, CampaignMembership
from leads.stages import BUCKETS, FORWARD_PATH, Stage

from .facts import bin_bounds, percentile_seconds, source_key
from .models import (
    ALL_CAMPAIGNS,
    ALL_OWNERS,
    ALL_SOURCES,
    COHORT_COLUMNS,
    NO_OWNER,
    REACHED_COLUMNS,
    CohortCount,
    DurationBin,
    Grain,
    LeadDuration,
    LeadFact,
    PendingRefresh,
    ReachCount,
    ReasonCount,
)
from .periods import period_q

NOTHING = -2  # a key no row has: the filter names a campaign or owner that does not exist


@dataclass(frozen=True)
class Scope:
    """A report's filters resolved to rollup keys. Dates are days in settings.TIME_ZONE."""

    campaign_key: int = ALL_CAMPAIGNS
    source_key: str = ALL_SOURCES
    owner_key: int = ALL_OWNERS
    since: dt.date | None = None
    until: dt.date | None = None
    filters: dict = field(default_factory=dict, compare=False)

    @property
    def dimensions(self) -> int:
        return sum(
            (
                self.campaign_key != ALL_CAMPAIGNS,
                self.source_key != ALL_SOURCES,
                self.owner_key != ALL_OWNERS,
            )
        )

    def keyed(self, campaign_key=None) -> dict:
        return {
            "campaign_key": self.campaign_key if campaign_key is None else campaign_key,
            "source_key": self.source_key,
            "owner_key": self.owner_key,
        }

    def rows(self, model, **extra):
        return model.objects.filter(period_q(self.since, self.until), **self.keyed(), **extra)

    def rows_per_campaign(self, model, campaign_ids, **extra):
        return model.objects.filter(
            period_q(self.since, self.until),
            campaign_key__in=campaign_ids,
            source_key=self.source_key,
            owner_key=self.owner_key,
            **extra,
        )

    def facts(self):
        """The lead facts of the leads in scope (for lists and what the rollups lack)."""
        facts = LeadFact.objects.all()
        if self.campaign_key != ALL_CAMPAIGNS:
            members = CampaignMembership.objects.filter(campaign_id=self.campaign_key)
            facts = facts.filter(lead_id__in=members.values("lead_id"))
        if self.source_key != ALL_SOURCES:
            facts = facts.filter(source_key=self.source_key)
        if self.owner_key != ALL_OWNERS:
            facts = facts.filter(owner_key=self.owner_key)
        if self.since:
            facts = facts.filter(entered_on__gte=self.since)
        if self.until:
            facts = facts.filter(entered_on__lte=self.until)
        return facts

    def durations(self, kind: str, stage: str):
        """The exact durations of one kind and stage for the leads in scope."""
        rows = LeadDuration.objects.filter(kind=kind, stage=stage)
        if self.campaign_key != ALL_CAMPAIGNS:
            members = CampaignMembership.objects.filter(campaign_id=self.campaign_key)
            rows = rows.filter(lead_id__in=members.values("lead_id"))
        if self.source_key != ALL_SOURCES:
            rows = rows.filter(source_key=self.source_key)
        if self.owner_key != ALL_OWNERS:
            rows = rows.filter(owner_key=self.owner_key)
        if self.since:
            rows = rows.filter(entered_on__gte=self.since)
        if self.until:
            rows = rows.filter(entered_on__lte=self.until)
        return rows


def freshness() -> dict:
    """How current the counts are: `pending`, the leads whose change is not counted yet
    (marked pending, or queued for a worker), and `as_of`, the time the counts are exact
    for: now when nothing is pending, else the moment the oldest pending change was
    recorded. Imports and moves are counted in their own transaction, so this is 0 unless a
    refresh failed (a worker then catches up)."""
    from outbox.models import PendingTask

    from .tasks import refresh_facts

    now = timezone.now()
    table = connection.ops.quote_name(PendingTask._meta.db_table)
    if connection.vendor == "postgresql":
        length = "jsonb_array_length(args -> 0)"
    else:
        length = "json_array_length(args, '$[0]')"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT coalesce(sum({length}), 0) FROM {table} WHERE task = %s",
            [refresh_facts.name],
        )
        queued = int(cursor.fetchone()[0])
    marked = PendingRefresh.objects.aggregate(n=Count("pk"), since=Min("since"))
    pending = queued + marked["n"]
    oldest = [marked["since"]] if marked["since"] else []
    if queued:
        tasks = PendingTask.objects.filter(task=refresh_facts.name)
        oldest.append(tasks.aggregate(since=Min("created_at"))["since"] or now)
    return {"as_of": min(oldest) if pending and oldest else now, "pending": pending}


def leads_being_counted() -> int:
    """The pages' notice: how many leads wait for their counts (`freshness()["pending"]`)."""
    return freshness()["pending"]


def funnel_scope(*, campaign=None, source=None, owner=None, since=None, until=None, user=None):
    """Resolve the public filters (a campaign slug, a source, an owner given as `me`, `none`
    or a username, and dates) to a Scope; at most two queries."""
    campaign_key = ALL_CAMPAIGNS
    if campaign:
        found = Campaign.objects.filter(slug=campaign).values_list("pk", flat=True)
        campaign_key = found.first() or NOTHING
    owner = (owner or "").strip()
    owner_key = ALL_OWNERS
    if owner == "me":
        owner_key = user.pk if user is not None and user.is_authenticated else NOTHING
    elif owner == "none":
        owner_key = NO_OWNER
    elif owner:
        found = get_user_model().objects.filter(username=owner).values_list("pk", flat=True)
        owner_key = found.first() or NOTHING
    return Scope(
        campaign_key=campaign_key,
        source_key=source_key(source) if source else ALL_SOURCES,
        owner_key=owner_key,
        since=since,
        until=until,
        filters={
            name: value
            for name, value in (
                ("campaign", campaign),
                ("source", source),
                ("owner", owner),
                ("since", since),
                ("until", until),
            )
            if value
        },
    )


def cohort_totals(scope: Scope) -> dict:
    sums = scope.rows(CohortCount).aggregate(**{c: Sum(c) for c in COHORT_COLUMNS})
    return {c: (v or (Decimal(0) if c == "won_amount" else 0)) for c, v in sums.items()}


def duration_cells(scope: Scope, kinds=("to",)) -> dict[tuple[str, str], list]:
    """Histogram cells (bin, n, seconds) per (kind, stage) for the cohort in scope."""
    cells: dict[tuple[str, str], list] = defaultdict(list)
    if scope.dimensions <= 1:
        rows = (
            scope.rows(DurationBin, kind__in=kinds)
            .values("kind", "stage", "bin")
            .annotate(n_sum=Sum("n"), seconds_sum=Sum("seconds"))
            .order_by()
        )
        for row in rows:
            cells[(row["kind"], row["stage"])].append(
                (row["bin"], row["n_sum"], row["seconds_sum"])
            )
        return cells
    # Filtered on two or more dimensions: fewer leads match; sum their own histograms.
    if connection.vendor == "postgresql":
        matching, params = scope.facts().values("lead_id").query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                SELECT e.v->2->>0, e.v->2->>1, (e.v->2->>2)::int,
                       SUM((e.v->3->>'n')::bigint), SUM((e.v->3->>'seconds')::bigint)
                FROM dashboards_leadfact f
                CROSS JOIN LATERAL jsonb_array_elements(f.contribution) AS e(v)
                WHERE f.lead_id IN ({matching}) AND e.v->>0 = 'bins'
                      AND e.v->2->>0 = ANY(%s)
                GROUP BY 1, 2, 3
                """,
                [*params, list(kinds)],
            )
            for kind, stage, bin_, n, seconds in cursor.fetchall():
                cells[(kind, stage)].append((bin_, int(n), int(seconds)))
        return cells
    merged: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    for contribution in scope.facts().values_list("contribution", flat=True).iterator():
        for table, _day, extra, columns in contribution:
            if table == "bins" and extra[0] in kinds:
                cell = merged[tuple(extra)]
                cell[0] += columns["n"]
                cell[1] += columns["seconds"]
    for (kind, stage, bin_), (n, seconds) in merged.items():
        cells[(kind, stage)].append((bin_, n, seconds))
    return cells


def percentiles(scope: Scope, cells, wanted) -> dict[tuple, float | None]:
    """Exact percentiles, in seconds, of the scope's durations: `wanted` lists (kind, stage,
    fraction). The histogram cells find the bin of each wanted rank; ONE query (an index
    range scan of each such bin's LeadDuration rows) reads their exact values, on PostgreSQL
    and SQLite alike."""
    asked: dict[tuple, None] = {}

    def recorder(key):
        def values_in_bin(bin_, offset, count):
            asked[(*key, bin_, offset, count)] = None
            return []

        return values_in_bin

    for kind, stage, fraction in wanted:
        percentile_seconds(cells.get((kind, stage), ()), fraction, recorder((kind, stage)))
    counts = sorted((k, sorted(v)) for k, v in cells.items() if k in {w[:2] for w in wanted})
    sizes = {(*key, bin_): n for key, found in counts for bin_, n, _ in found}
    answers = _values_in_bins(scope, list(asked), counts, sizes)

    def reader(key):
        return lambda bin_, offset, count: answers.get((*key, bin_, offset, count), [])

    return {
        (kind, stage, fraction): percentile_seconds(
            cells.get((kind, stage), ()), fraction, reader((kind, stage))
        )
        for kind, stage, fraction in wanted
    }


def _values_in_bins(
    scope: Scope, asked: list[tuple], counts=(), sizes=None
) -> dict[tuple, list[int]]:
    """For each (kind, stage, bin, offset, count): that many durations in the bin from the
    offset, in order; one UNION ALL of index range scans. `sizes` gives the scope's count of
    each (kind, stage, bin), so a value past the bin's middle is read from its top."""
    if not asked:
        return {}
    sizes = sizes or {}
    if connection.vendor != "postgresql":  # SQLite may give a deleted row's id again
        return _read_values_in_bins(scope, asked, sizes)
    # The middle values of a scope stay what they were while no duration row changed: every
    # refresh writes its leads' rows anew (new ids) and a removal lowers a bin's count, so the
    # newest row id and the scope's histograms key an exact answer (cached an hour).
    newest = LeadDuration.objects.aggregate(newest=Max("pk"))["newest"]
    key = (
        "reporting-middles:"
        + hashlib.sha256(
            repr((scope.keyed(), scope.since, scope.until, newest, counts, asked)).encode()
        ).hexdigest()
    )
    cached = cache.get(key)
    if cached is not None:
        return cached
    found = _read_values_in_bins(scope, asked, sizes)
    cache.set(key, found, timeout=3600)
    return found


def _read_values_in_bins(scope: Scope, asked: list[tuple], sizes) -> dict[tuple, list[int]]:
    parts, params = [], []
    for number, (kind, stage, bin_, offset, count) in enumerate(asked):
        low, high = bin_bounds(bin_)
        rows = scope.durations(kind, stage)
        if low is not None:
            rows = rows.filter(seconds__gte=low)
        if high is not None:
            rows = rows.filter(seconds__lt=high)
        # An index range scan walks every row before the offset: from whichever end of the
        # bin is nearer, it walks at most half the bin's rows in scope.
        above = sizes.get((kind, stage, bin_), 0) - offset - count
        if 0 <= above < offset:
            rows, offset = rows.order_by("-seconds"), above
        else:
            rows = rows.order_by("seconds")
        query = rows.values_list("seconds", flat=True)[offset : offset + count]
        inner, inner_params = query.query.sql_with_params()
        parts.append(f"SELECT {number} AS k, q{number}.seconds FROM ({inner}) AS q{number}")
        params.extend(inner_params)
    found: dict[tuple, list[int]] = {key: [] for key in asked}
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), params)
        for number, seconds in cursor.fetchall():
            found[asked[number]].append(seconds)
    return {key: sorted(values) for key, values in found.items()}


def _days(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 86400, 1)


def _rate(part, whole) -> float | None:
    return round(part / whole, 4) if whole else None


TO_MEDIANS = tuple(("to", stage, 0.5) for stage in FORWARD_PATH[1:])
IN_MEDIANS = tuple(("in", stage, 0.5) for stage in Stage.values)


def funnel_numbers(scope: Scope, totals: dict | None = None, cells=None, exact=None) -> dict:
    """The /api/funnel/ answer (DESIGN.md section 3) for a scope."""
    totals = cohort_totals(scope) if totals is None else totals
    cells = duration_cells(scope) if cells is None else cells
    stages = {stage: totals[f"now_{stage}"] for stage in Stage.values}
    buckets = {bucket: sum(stages[s] for s in members) for bucket, members in BUCKETS.items()}
    reached = {stage: totals[f"reached_{stage}"] for stage in FORWARD_PATH}
    conversion = {
        f"{before}->{after}": _rate(reached[after], reached[before])
        for before, after in itertools.pairwise(FORWARD_PATH)
    }
    exact = percentiles(scope, cells, TO_MEDIANS) if exact is None else exact
    days_to = {stage: _days(exact[("to", stage, 0.5)]) for stage in FORWARD_PATH[1:]}
    won, lost = reached[Stage.CUSTOMER], totals["lost"]
    return {
        **buckets,
        "stages": stages,
        "reached": reached,
        "conversion": conversion,
        "win_rate": _rate(won, won + lost),
        "won_deals": won,
        "lost_deals": lost,
        "days_to": days_to,
    }


def funnel_snapshot(*, user=None, **filters) -> dict:
    return funnel_numbers(funnel_scope(user=user, **filters))


# --- the manager dashboard ----------------------------------------------------------------


def sla_hours() -> int:
    """The hours managers set at /queue/settings/: the queue, the SLA e-mails and the
    dashboard count breaches against the same number."""
    from funnel.models import WorkspaceSettings

    return WorkspaceSettings.load().sla_hours


def dashboard_numbers(scope: Scope, *, now: dt.datetime | None = None) -> dict:
    """Everything the manager dashboard shows, besides trends and the scoreboard."""
    now = now or timezone.now()
    totals = cohort_totals(scope)
    cells = duration_cells(scope, kinds=("to", "in"))
    stays = percentiles(scope, cells, TO_MEDIANS + IN_MEDIANS)  # one query for all medians
    funnel = funnel_numbers(scope, totals, cells, exact=stays)

    path = []
    for index, stage in enumerate(FORWARD_PATH):
        before = FORWARD_PATH[index - 1] if index else None
        reached = funnel["reached"][stage]
        previous = funnel["reached"][before] if before else None
        path.append(
            {
                "stage": stage,
                "reached": reached,
                "conversion": funnel["conversion"].get(f"{before}->{stage}"),
                "drop_off": (previous - reached) if before else None,
                "days_to": funnel["days_to"].get(stage),
            }
        )
    velocity = [
        {
            "stage": stage,
            "days_to": funnel["days_to"].get(stage),
            "days_in": _days(stays[("in", stage, 0.5)]),
            "stays": sum(n for _, n, _ in cells.get(("in", stage), ())),
        }
        for stage in Stage.values
        if stage != Stage.JUNK
    ]

    hours = sla_hours()
    mql_stays = cells.get(("in", Stage.MQL), ())
    decision = stays[("in", Stage.MQL, 0.5)]
    late = scope.durations("in", Stage.MQL).filter(seconds__gte=hours * 3600).count()
    # Waiting over the SLA = waiting - waiting less than the SLA: the second set is only the
    # MQLs of the last few hours, however many leads the installation holds.
    within = (
        scope.facts()
        .filter(stage=Stage.MQL, stage_since__gte=now - dt.timedelta(hours=hours))
        .count()
    )
    # An MQL stay an import began is history, never a breach (funnel.sla.imported_stay).
    from funnel.sla import imported_stay

    imported = (
        scope.facts()
        .filter(stage=Stage.MQL, stage_since__lt=now - dt.timedelta(hours=hours))
        .filter(imported_stay("lead_id", "stage_since"))
        .count()
    )
    breaches = max(0, funnel["stages"][Stage.MQL] - within - imported)
    handoff = {
        "sla_hours": hours,
        "waiting": funnel["stages"][Stage.MQL],
        "breaches": breaches,
        "decided": sum(n for _, n, _ in mql_stays),
        "decided_late": late,
        "median_hours_to_decision": None if decision is None else round(decision / 3600, 1),
        "accepts": totals["accepts"],
        "rejects": totals["rejects"],
        "acceptance_rate": _rate(totals["accepts"], totals["accepts"] + totals["rejects"]),
    }
    nurture = {
        "in_nurture": funnel["stages"][Stage.NURTURE],
        "enrolled": totals["nurtured"],
        "recycled": totals["recycled"],
        "unsubscribed": totals["unsubscribed"],
    }
    return {
        "funnel": funnel,
        "buckets": [(bucket, funnel[bucket]) for bucket in BUCKETS],
        "stages": list(funnel["stages"].items()),
        "path": path,
        "velocity": velocity,
        "handoff": handoff,
        "nurture": nurture,
        "won_amount": totals["won_amount"],
    }


MAX_WEEKS = 104
MAX_MONTHS = 120


def _week_start(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def trend_numbers(scope: Scope, *, per: str = "week", today: dt.date | None = None) -> dict:
    """Leads first reaching each forward stage, per week (Monday first) or month of the day
    they reached it. Without dates: the last 12 weeks or 12 months up to today."""
    today = today or timezone.localdate(timezone=timezone.get_default_timezone())
    since, until = scope.since, scope.until or today
    # A chart stays readable: weeks over two years become months, months stop at ten years.
    if per == "week" and since is not None and (until - since).days > 7 * MAX_WEEKS:
        per = "month"
    if per == "month" and since is not None and (until - since).days > 31 * MAX_MONTHS:
        since = (until - dt.timedelta(days=30 * MAX_MONTHS)).replace(day=1)
    if since is None:
        since = (
            _week_start(until) - dt.timedelta(weeks=11)
            if per == "week"
            else (until.replace(day=1) - dt.timedelta(days=330)).replace(day=1)
        )
    if per == "week":  # months do not split into weeks: read the day rows
        rows = ReachCount.objects.filter(
            grain=Grain.DAY, period__gte=since, period__lte=until, **scope.keyed()
        )
    else:
        rows = Scope(**{**scope.__dict__, "since": since, "until": until}).rows(ReachCount)
    start_of = _week_start if per == "week" else (lambda day: day.replace(day=1))
    totals: dict[dt.date, dict[str, int]] = {}
    cursor = start_of(since)
    while cursor <= until:
        totals[cursor] = dict.fromkeys(FORWARD_PATH, 0)
        cursor = (
            cursor + dt.timedelta(days=7)
            if per == "week"
            else (cursor + dt.timedelta(days=32)).replace(day=1)
        )
    for row in rows.values("period", *REACHED_COLUMNS):
        bucket = totals.setdefault(start_of(row["period"]), dict.fromkeys(FORWARD_PATH, 0))
        for stage in FORWARD_PATH:
            bucket[stage] += row[f"reached_{stage}"]
    return {
        "per": per,
        "since": since,
        "until": until,
        "periods": [{"start": start, "counts": counts} for start, counts in sorted(totals.items())],
    }


# --- the campaign scoreboard --------------------------------------------------------------

SCOREBOARD_SORTS = (
    "name",
    "leads",
    "mqls",
    "acceptance_rate",
    "sqls",
    "opportunities",
    "customers",
    "won_amount",
    "cost_per_mql",
    "cost_per_sql",
    "cost_per_customer",
)


def _cost(budget, count):
    if budget is None or not count:
        return None
    return (Decimal(budget) / count).quantize(Decimal("0.01"))


def scoreboard(scope: Scope, *, created_by=None, sort: str = "mqls", descending=True) -> list:
    """One row per campaign with leads in scope: its cohort's numbers, rejection reasons,
    won amount, and cost per MQL / SQL / customer where the campaign has a budget."""
    campaigns = Campaign.objects.all()
    if scope.campaign_key != ALL_CAMPAIGNS:
        campaigns = campaigns.filter(pk=scope.campaign_key)
    if created_by is not None:
        campaigns = campaigns.filter(created_by=created_by)
    campaigns = {campaign.pk: campaign for campaign in campaigns}
    counted = (
        scope.rows_per_campaign(CohortCount, list(campaigns))
        .values("campaign_key")
        .annotate(**{f"{c}_sum": Sum(c) for c in COHORT_COLUMNS})
        .order_by()
    )
    reasons = defaultdict(dict)
    reason_rows = (
        scope.rows_per_campaign(ReasonCount, list(campaigns), verb="reject")
        .values("campaign_key", "reason")
        .annotate(n_sum=Sum("n"))
        .order_by("campaign_key", "-n_sum", "reason")
    )
    for row in reason_rows:
        reasons[row["campaign_key"]][row["reason"]] = row["n_sum"]
    board = []
    for row in counted:
        if not row["leads_sum"]:
            continue  # rows emptied by leads that left the campaign
        campaign = campaigns[row["campaign_key"]]
        budget = getattr(campaign, "budget", None)
        accepts, rejects = row["accepts_sum"], row["rejects_sum"]
        mqls, sqls = row["reached_mql_sum"], row["reached_sql_sum"]
        customers = row["reached_customer_sum"]
        board.append(
            {
                "campaign": campaign,
                "name": campaign.name,
                "slug": campaign.slug,
                "leads": row["leads_sum"],
                "mqls": mqls,
                "sals": row["reached_sal_sum"],
                "accepts": accepts,
                "rejects": rejects,
                "acceptance_rate": _rate(accepts, accepts + rejects),
                "reasons": reasons.get(campaign.pk, {}),
                "sqls": sqls,
                "opportunities": row["reached_opportunity_sum"],
                "customers": customers,
                "won_amount": row["won_amount_sum"] or Decimal(0),
                "budget": budget,
                "cost_per_mql": _cost(budget, mqls),
                "cost_per_sql": _cost(budget, sqls),
                "cost_per_customer": _cost(budget, customers),
            }
        )
    sort = sort if sort in SCOREBOARD_SORTS else "mqls"

    def key(entry):
        value = entry[sort]
        # Missing values (no budget, nothing decided) sort last either way.
        missing = value is None
        if sort == "name":
            value = (value or "").lower()
        return (missing != descending, value if not missing else 0, entry["name"].lower())

    board.sort(key=key, reverse=descending)
    return board


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
