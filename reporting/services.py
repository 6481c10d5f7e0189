"""Writes to the rollups: refresh one lead's fact from its log, or rebuild everything.

`lead_fact_refresh` runs after every committed change to a lead (see receivers.py). It
locks the lead's row, so refreshes of one lead queue up and each reads the log as the last
commit left it, then applies "new contribution minus old" to the count tables with
increments (INSERT ... ON CONFLICT DO UPDATE SET n = n + excluded.n), which concurrent
refreshes of other leads can interleave safely. Rows are written in key order, so two
refreshes never wait on each other in a cycle.
"""

import datetime as dt
import json
import logging
from collections import defaultdict
from decimal import Decimal
from itertools import islice

from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from campaigns.models import CampaignMembership
from funnel.models import Opportunity, Transition
from leads.models import Lead

from .facts import Fact, LogRow, lead_fact
from .models import (
    ALL_CAMPAIGNS,
    ALL_OWNERS,
    ALL_SOURCES,
    COHORT_COLUMNS,
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

logger = logging.getLogger(__name__)

TABLES = {
    "cohort": (CohortCount, (), COHORT_COLUMNS),
    "reach": (ReachCount, (), REACHED_COLUMNS),
    "bins": (DurationBin, ("kind", "stage", "bin"), ("n", "seconds")),
    "reasons": (ReasonCount, ("verb", "reason"), ("n",)),
}
# Which combinations of campaign / source / owner each table keeps. Histograms keep the
# unfiltered row and one per single dimension; a report filtered on two or more dimensions
# reads their medians from the lead facts instead (few leads match such a filter).
ALL_SUBSETS = tuple((c, s, o) for c in (0, 1) for s in (0, 1) for o in (0, 1))
SUBSETS = {
    "cohort": ALL_SUBSETS,
    "reach": ALL_SUBSETS,
    "reasons": ALL_SUBSETS,
    "bins": ((0, 0, 0), (1, 0, 0), (0, 1, 0), (0, 0, 1)),
}


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def rollup_rows(fact: Fact | LeadFact | None, sign: int = 1, into=None) -> dict:
    """The count-table rows a fact adds (sign=1) or takes away (sign=-1), by key:
    (table, grain, period, campaign_key, source_key, owner_key, *extra) -> {column: value}."""
    rows = into if into is not None else defaultdict(lambda: defaultdict(int))
    if fact is None:
        return rows
    campaigns = fact.campaigns or []
    for table, day, extra, columns in fact.contribution:
        day = dt.date.fromisoformat(day)
        periods = ((Grain.DAY.value, day), (Grain.MONTH.value, month_start(day)))
        for with_campaign, with_source, with_owner in SUBSETS[table]:
            campaign_keys = campaigns if with_campaign else (ALL_CAMPAIGNS,)
            source = fact.source_key if with_source else ALL_SOURCES
            owner = fact.owner_key if with_owner else ALL_OWNERS
            for campaign in campaign_keys:
                for grain, period in periods:
                    target = rows[(table, grain, period, campaign, source, owner, *extra)]
                    for column, value in columns.items():
                        if column == "won_amount":
                            value = Decimal(value)
                        target[column] += sign * value
    return rows


def _nonzero(rows: dict) -> dict:
    return {key: columns for key, columns in rows.items() if any(columns.values())}


def rollups_add(rows: dict) -> None:
    """Add the rows' values to the count tables, creating rows that do not exist yet."""
    by_table = defaultdict(list)
    for key in sorted(rows, key=lambda k: tuple(map(str, k))):
        by_table[key[0]].append((key, rows[key]))
    limit = connection.features.max_query_params or 30000
    for table in TABLES:
        if by_table[table]:
            _upsert(table, by_table[table], limit)


def _upsert(table: str, items: list, limit: int) -> None:
    model, extra, values = TABLES[table]
    keys = ("grain", "period", "campaign_key", "source_key", "owner_key", *extra)
    columns = (*keys, *values)
    name = connection.ops.quote_name
    db_table = name(model._meta.db_table)
    per_statement = max(1, min(1000, limit // len(columns)))
    placeholders = "(" + ", ".join(["%s"] * len(columns)) + ")"
    head = f"INSERT INTO {db_table} ({', '.join(map(name, columns))}) VALUES "
    tail = f" ON CONFLICT ({', '.join(map(name, keys))}) DO UPDATE SET " + ", ".join(
        f"{name(c)} = {db_table}.{name(c)} + excluded.{name(c)}" for c in values
    )
    iterator = iter(items)
    with connection.cursor() as cursor:
        while batch := list(islice(iterator, per_statement)):
            params = []
            for key, data in batch:
                params.extend(key[1:])
                params.extend(data.get(column, 0) for column in values)
            cursor.execute(head + ", ".join([placeholders] * len(batch)) + tail, params)


def _log_rows(which: dict, last_ids: dict | None = None) -> dict[int, list[LogRow]]:
    """The log rows per lead, oldest first; `last_ids` gets each lead's newest row id."""
    rows = defaultdict(list)
    query = (
        Transition.objects.filter(**which)
        .order_by("lead_id", "at", "id")
        .values_list("lead_id", "at", "from_stage", "to_stage", "verb", "reason__code", "id")
    )
    for lead_id, at, from_stage, to_stage, verb, reason, row_id in query.iterator(chunk_size=20000):
        rows[lead_id].append(LogRow(at, from_stage, to_stage, verb, reason or ""))
        if last_ids is not None and row_id > last_ids.get(lead_id, 0):
            last_ids[lead_id] = row_id
    return rows


def _campaigns(which: dict) -> dict[int, list[int]]:
    found = defaultdict(list)
    pairs = CampaignMembership.objects.filter(**which).values_list("lead_id", "campaign_id")
    for lead_id, campaign_id in pairs:
        found[lead_id].append(campaign_id)
    return found


def _won(which: dict) -> dict[int, Decimal]:
    query = (
        Opportunity.objects.filter(**which, status=Opportunity.Status.WON)
        .values("lead_id")
        .annotate(total=Sum("amount"))
        .values_list("lead_id", "total")
    )
    return dict(query)


def _facts(leads: list[dict], which: dict, last_ids=None) -> dict[int, Fact | None]:
    """Facts for `leads`; `which` selects their log rows (a filter on lead_id)."""
    last_ids = {} if last_ids is None else last_ids
    rows, campaigns, won = _log_rows(which, last_ids), _campaigns(which), _won(which)
    facts = {
        lead["id"]: lead_fact(
            stage=lead["stage"],
            source=lead["source"],
            owner_id=lead["owner_id"],
            campaigns=campaigns.get(lead["id"], ()),
            won_amount=won.get(lead["id"]),
            rows=rows.get(lead["id"], []),
        )
        for lead in leads
    }
    for lead_id, fact in facts.items():
        if fact is not None:
            fact.counted_through = last_ids.get(lead_id, 0)
    return facts


def _fact_model(lead_id: int, fact: Fact) -> LeadFact:
    return LeadFact(
        lead_id=lead_id,
        entered_at=fact.entered_at,
        entered_on=fact.entered_on,
        stage=fact.stage,
        stage_since=fact.stage_since,
        furthest=fact.furthest,
        source_key=fact.source_key,
        owner_key=fact.owner_key,
        campaigns=fact.campaigns,
        contribution=fact.contribution,
        counted_through=fact.counted_through,
    )


def _durations(facts: dict[int, Fact | None]) -> list[LeadDuration]:
    return [
        LeadDuration(
            lead_id=lead_id,
            kind=kind,
            stage=stage,
            seconds=seconds,
            entered_on=fact.entered_on,
            source_key=fact.source_key,
            owner_key=fact.owner_key,
        )
        for lead_id, fact in facts.items()
        if fact is not None
        for kind, stage, seconds in fact.durations
    ]


LEAD_COLUMNS = ("id", "stage", "source", "owner_id")


def lead_fact_refresh(*, lead_id: int) -> LeadFact | None:
    """Recompute one lead's fact from its log and move the rollups by the difference."""
    return _refresh([lead_id]).get(lead_id)


def lead_facts_refresh(*, lead_ids) -> int:
    """`lead_fact_refresh` for many leads in one transaction. An import's leads share their
    rollup rows (same day, campaign, source), so a thousand leads move a few dozen rows
    once instead of each row a thousand times."""
    ids = sorted(set(lead_ids))
    if len(ids) > SETWISE_FROM and connection.vendor == "postgresql":
        from .setwise import facts_refresh_setwise  # it builds on this module's tables

        return facts_refresh_setwise(ids)
    if ids:
        _refresh(ids)
    return len(ids)


# From this many leads (an import batch, a campaign's members), PostgreSQL computes the facts
# and the change to the rollups set-wise (setwise.py) instead of lead by lead in Python.
SETWISE_FROM = 50


def _refresh(ids: list[int]) -> dict[int, LeadFact]:
    """Recompute the facts of `ids` (sorted) from their logs and apply their changes to the
    count tables folded into ONE delta; the facts written, by lead id."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # Waits for a running rebuild (EXCLUSIVE) before reading the facts, so the change
            # is applied to what the rebuild wrote; refreshes do not block each other.
            with connection.cursor() as cursor:
                cursor.execute("LOCK TABLE dashboards_leadfact IN ROW EXCLUSIVE MODE")
        # The leads' row locks (the ones transitions take) queue refreshes of one lead; taken
        # in id order, as imports take them, so two batches never wait on each other in a
        # cycle.
        leads = list(
            Lead.objects.select_for_update(of=("self",))
            .filter(pk__in=ids)
            .order_by("pk")
            .values(*LEAD_COLUMNS)
        )
        olds = {fact.lead_id: fact for fact in LeadFact.objects.filter(pk__in=ids)}
        last_ids: dict[int, int] = {}
        which = {"lead_id__in": [lead["id"] for lead in leads]}
        news = _facts(leads, which, last_ids) if leads else {}
        delta = defaultdict(lambda: defaultdict(int))
        for lead_id in ids:
            rollup_rows(olds.get(lead_id), sign=-1, into=delta)
            rollup_rows(news.get(lead_id), sign=1, into=delta)
        rollups_add(_nonzero(delta))
        built = [_fact_model(lead_id, fact) for lead_id, fact in news.items() if fact is not None]
        LeadDuration.objects.filter(lead_id__in=ids).delete()
        PendingRefresh.objects.filter(lead_id__in=ids).delete()
        if connection.vendor == "postgresql" and len(ids) > 50:
            # Many leads (an import batch's): the old facts out and the new ones COPYed in,
            # the way a rebuild writes them; an INSERT of thousands of rows spends more time
            # in adapting parameters than in PostgreSQL.
            if olds:
                LeadFact.objects.filter(pk__in=list(olds)).delete()
            _copy_facts(built)
            _copy_durations(news)
            return {fact.lead_id: fact for fact in built}
        gone = [lead_id for lead_id in olds if news.get(lead_id) is None]
        if gone:
            LeadFact.objects.filter(pk__in=gone).delete()
        LeadDuration.objects.bulk_create(_durations(news), batch_size=2000)
        written = LeadFact.objects.bulk_create(
            built,
            update_conflicts=True,
            unique_fields=["lead"],
            update_fields=FACT_COLUMNS[1:],  # all but the lead
        )
    return {fact.lead_id: fact for fact in written}


def counted_through(lead_id: int, transition_id: int) -> bool:
    """Whether the lead's committed fact already counts this log row (a refresh since the
    move read it: the round robin's save of a new MQL's owner refreshes the lead within the
    move's announcement, before reporting's receiver hears of the move)."""
    return LeadFact.objects.filter(pk=lead_id, counted_through__gte=transition_id).exists()


def lead_dimensions_counted(lead_id: int) -> bool:
    """Whether the lead's fact has its current owner and source (two small reads)."""
    from .facts import owner_key, source_key

    lead = Lead.objects.filter(pk=lead_id).values("owner_id", "source").first()
    fact = LeadFact.objects.filter(pk=lead_id).values("owner_key", "source_key").first()
    if lead is None or fact is None:
        return lead is None
    return (fact["owner_key"], fact["source_key"]) == (
        owner_key(lead["owner_id"]),
        source_key(lead["source"]),
    )


def leads_mark_pending(lead_ids) -> None:
    """Record leads whose change is not counted yet (in the caller's transaction)."""
    now = timezone.now()
    PendingRefresh.objects.bulk_create(
        [PendingRefresh(lead_id=lead_id, since=now) for lead_id in sorted(set(lead_ids))],
        ignore_conflicts=True,
    )


def _mark_pending_quietly(lead_ids) -> None:
    try:
        with transaction.atomic():
            leads_mark_pending(
                Lead.objects.filter(pk__in=list(lead_ids)).values_list("pk", flat=True)
            )
    except Exception:
        logger.exception("could not mark %d leads as pending", len(lead_ids))


def lead_facts_refresh_quietly(*, lead_ids) -> None:
    """For receivers and tasks: as `lead_facts_refresh`; should the batch fail as a whole
    (a deadlock with a concurrent writer, one lead's bad data), each lead is refreshed on its
    own, so one lead never holds up the others' rollups."""
    try:
        lead_facts_refresh(lead_ids=lead_ids)
    except Exception:
        logger.exception("batch refresh of %d leads failed; refreshing one by one", len(lead_ids))
        for lead_id in sorted(set(lead_ids)):
            lead_fact_refresh_quietly(lead_id=lead_id)


def lead_fact_refresh_quietly(*, lead_id: int) -> None:
    """For receivers: a failed refresh must not fail the user's committed change; the
    rollups catch up at the next change of the lead or with `rebuild_rollups`."""
    try:
        lead_fact_refresh(lead_id=lead_id)
    except Exception:
        logger.exception("could not refresh the funnel rollups of lead %s", lead_id)
        _mark_pending_quietly([lead_id])


def rollups_rebuild(*, chunk_size: int = 5000, progress=None) -> dict:
    """Throw the rollups away and recount them from the transition log."""
    models = (
        LeadFact,
        LeadDuration,
        PendingRefresh,
        CohortCount,
        ReachCount,
        DurationBin,
        ReasonCount,
    )
    on_postgresql = connection.vendor == "postgresql"
    nested = connection.in_atomic_block
    leads_done = 0
    with transaction.atomic():
        if on_postgresql:
            tables = ", ".join(connection.ops.quote_name(m._meta.db_table) for m in models)
            with connection.cursor() as cursor:
                # Live refreshes wait for the rebuild, then apply their change to its result.
                cursor.execute(f"LOCK TABLE {tables} IN EXCLUSIVE MODE")
                if nested:  # TRUNCATE refuses to run beside the caller's pending FK checks
                    for model in models:
                        cursor.execute(f"DELETE FROM {model._meta.db_table}")
                else:
                    cursor.execute(f"TRUNCATE {tables}")
        else:
            for model in models:
                model.objects.all().delete()
        last = 0
        while True:
            leads = list(
                Lead.objects.filter(pk__gt=last).order_by("pk").values(*LEAD_COLUMNS)[:chunk_size]
            )
            if not leads:
                break
            low, last = leads[0]["id"], leads[-1]["id"]
            facts = _facts(leads, {"lead_id__gte": low, "lead_id__lte": last})
            built = [
                _fact_model(lead_id, fact) for lead_id, fact in facts.items() if fact is not None
            ]
            if on_postgresql:
                _copy_facts(built)
                _copy_durations(facts)
            else:
                LeadFact.objects.bulk_create(built, batch_size=500)
                LeadDuration.objects.bulk_create(_durations(facts), batch_size=2000)
                rows = defaultdict(lambda: defaultdict(int))
                for fact in built:
                    rollup_rows(fact, into=rows)
                rollups_add(_nonzero(rows))
            leads_done += len(leads)
            if progress:
                progress(leads_done)
        if on_postgresql:
            # A million leads make millions of rollup increments: let PostgreSQL sum them.
            _rollups_from_facts_sql()
    return {"leads": leads_done}


FACT_COLUMNS = (
    "lead_id",
    "entered_at",
    "entered_on",
    "stage",
    "stage_since",
    "furthest",
    "source_key",
    "owner_key",
    "campaigns",
    "contribution",
    "counted_through",
    "refreshed_at",
)


def _copy_facts(facts: list[LeadFact]) -> None:
    now = timezone.now()
    columns = ", ".join(FACT_COLUMNS)
    copying = f"COPY dashboards_leadfact ({columns}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(copying) as copy:
        for fact in facts:
            copy.write_row(
                (
                    fact.lead_id,
                    fact.entered_at,
                    fact.entered_on,
                    fact.stage,
                    fact.stage_since,
                    fact.furthest,
                    fact.source_key,
                    fact.owner_key,
                    json.dumps(fact.campaigns),
                    json.dumps(fact.contribution, separators=(",", ":")),
                    fact.counted_through,
                    now,
                )
            )


def _copy_durations(facts: dict[int, Fact | None]) -> None:
    columns = "lead_id, kind, stage, seconds, entered_on, source_key, owner_key"
    copying = f"COPY dashboards_leadduration ({columns}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(copying) as copy:
        for lead_id, fact in facts.items():
            if fact is None:
                continue
            for kind, stage, seconds in fact.durations:
                copy.write_row(
                    (
                        lead_id,
                        kind,
                        stage,
                        seconds,
                        fact.entered_on,
                        fact.source_key,
                        fact.owner_key,
                    )
                )


def _subset_condition(table: str) -> str:
    if SUBSETS[table] == ALL_SUBSETS:
        return "TRUE"
    # Histograms: the unfiltered row and one per single dimension.
    return "((c.key <> 0)::int + (s.key <> '*')::int + (o.key <> -1)::int) <= 1"


EXTRA_SQL = {
    "kind": "e.v->2->>0",
    "stage": "e.v->2->>1",
    "bin": "(e.v->2->>2)::smallint",
    "verb": "e.v->2->>0",
    "reason": "e.v->2->>1",
}


def contributions_sql(table: str, facts: str, *, sign: str = "") -> str:
    """One count table's rows read from the contributions of the facts in `facts` (a table
    with lead facts' columns), summed per day and dimensions: day, campaigns (as text),
    source_key, owner_key, the table's extra keys, its values (negated with sign="-").
    The statement's `%(table)s` parameter names the table."""
    _, extra, values = TABLES[table]
    cast = {column: "numeric" if column == "won_amount" else "bigint" for column in values}
    figures = ", ".join(
        f"{sign}SUM(COALESCE((e.v->3->>'{column}')::{cast[column]}, 0)) AS {column}"
        for column in values
    )
    return (
        "SELECT (e.v->>1)::date AS day, f.campaigns::text AS campaigns,"
        " f.source_key::text AS source_key, f.owner_key"
        + "".join(f", {EXTRA_SQL[name]} AS {name}" for name in extra)
        + f", {figures} FROM {facts} f"
        " CROSS JOIN LATERAL jsonb_array_elements(f.contribution) AS e(v)"
        " WHERE e.v->>0 = %(table)s"
        " GROUP BY " + ", ".join(str(i) for i in range(1, 5 + len(extra)))
    )


# A base row (`b`: day, campaigns, source_key, owner_key) spread over the dimension
# combinations a count table keeps: every campaign of its own and "all" (c), its source
# and "all" (s), its owner and "all" (o); `_subset_condition` picks the table's.
SPREAD_SQL = """
    CROSS JOIN LATERAL (
        SELECT 0 AS key
        UNION ALL SELECT x::int FROM jsonb_array_elements_text(b.campaigns::jsonb) AS x
    ) AS c
    CROSS JOIN LATERAL (VALUES ('*'::text), (b.source_key::text)) AS s(key)
    CROSS JOIN LATERAL (VALUES (-1), (b.owner_key)) AS o(key)
"""


def _rollups_from_facts_sql() -> None:
    """The day rows summed from the facts' contributions, then the month rows from them.
    Leads that share a day and dimensions are summed first, then spread over the
    dimension combinations, which is where the rows multiply."""
    for table, (model, extra, values) in TABLES.items():
        db_table = model._meta.db_table
        keys = ["grain", "period", "campaign_key", "source_key", "owner_key", *extra]
        extra_names = "".join(f", {name}" for name in extra)
        group = ", ".join(str(i) for i in range(1, len(keys) + 1))
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                WITH base AS ({contributions_sql(table, "dashboards_leadfact")})
                INSERT INTO {db_table} ({", ".join(keys + list(values))})
                SELECT 'd', b.day, c.key, s.key, o.key{extra_names},
                       {", ".join(f"SUM(b.{column})" for column in values)}
                FROM base b {SPREAD_SQL}
                WHERE {_subset_condition(table)}
                GROUP BY {group}
                """,
                {"table": table},
            )
            cursor.execute(
                f"""
                INSERT INTO {db_table} ({", ".join(keys + list(values))})
                SELECT 'm', date_trunc('month', period)::date, {", ".join(keys[2:])},
                       {", ".join(f"SUM({column})" for column in values)}
                FROM {db_table} WHERE grain = 'd'
                GROUP BY {", ".join(["2", *keys[2:]])}
                """
            )
