"""Many leads' facts refreshed set-wise in PostgreSQL: an import batch counted as part of its
merge, in a few statements instead of a Python loop over its leads.

The facts are the ones `facts.lead_fact` computes, contribution included, from the same log
rows; `tests/dashboards/test_setwise.py` compares the two over random histories. The change
to the count tables is "the old contributions out, the new ones in", summed per row key and
applied with increments, as the per-lead path does (services._refresh): concurrent refreshes
of other leads interleave safely, and rows are written in key order.

Scratch tables are temporary, dropped at the commit (`ON COMMIT DROP`): each merge range runs
on its own connection, so two never share them.
"""

from django.db import connection, transaction
from django.utils import timezone

from campaigns.models import CampaignMembership
from funnel.models import Opportunity, ReasonCode, Transition
from leads.models import Lead
from leads.stages import FORWARD_PATH

from .facts import BIN_EDGES_SECONDS, source_key
from .models import LeadDuration, LeadFact, PendingRefresh
from .services import SPREAD_SQL, TABLES, _subset_condition, contributions_sql

LEADS = Lead._meta.db_table
LOG = Transition._meta.db_table
REASONS = ReasonCode._meta.db_table
MEMBERS = CampaignMembership._meta.db_table
DEALS = Opportunity._meta.db_table
FACTS = LeadFact._meta.db_table
DURATIONS = LeadDuration._meta.db_table
PENDING = PendingRefresh._meta.db_table

RANK_SQL = "CASE t.to_stage {} END".format(
    " ".join(f"WHEN '{stage}' THEN {rank}" for rank, stage in enumerate(FORWARD_PATH))
)
CUSTOMER = FORWARD_PATH.index("customer")
FIRST_AT = [f"f{rank}" for rank in range(len(FORWARD_PATH))]
DAY_AT = [f"d{rank}" for rank in range(len(FORWARD_PATH))]


SCRATCH = (
    "reporting_ids",
    "reporting_leads",
    "reporting_members",
    "reporting_won",
    "reporting_old",
    "reporting_log",
    "reporting_per",
    "reporting_durations",
    "reporting_new",
)


def _day(expression: str) -> str:
    """The site's day of a moment, as the facts write it (ISO, e.g. 2025-01-06)."""
    return f"to_char({expression} AT TIME ZONE %(zone)s, 'YYYY-MM-DD')"


def _stages_array() -> str:
    return "ARRAY[{}]::text[]".format(", ".join(f"'{stage}'" for stage in FORWARD_PATH))


def _scratch(cursor, name: str, select: str, params: dict) -> None:
    cursor.execute(f"DROP TABLE IF EXISTS {name}")
    cursor.execute(f"CREATE TEMPORARY TABLE {name} ON COMMIT DROP AS {select}", params)


def facts_refresh_setwise(lead_ids) -> int:
    """Recompute the facts of `lead_ids` from their logs and move the rollups by the
    difference, in the caller's transaction; the number of leads."""
    ids = sorted(set(lead_ids))
    if not ids:
        return 0
    with transaction.atomic(), connection.cursor() as cursor:
        # Waits for a running rebuild (EXCLUSIVE); refreshes do not block each other.
        cursor.execute(f"LOCK TABLE {FACTS} IN ROW EXCLUSIVE MODE")
        cursor.execute("SET LOCAL jit TO off")
        # A batch's sorts and hashes (tens of MB for 50,000 leads) in memory, not on disk.
        cursor.execute("SET LOCAL work_mem = '64MB'")
        _scratch(
            cursor, "reporting_ids", "SELECT DISTINCT unnest(%(ids)s::bigint[]) AS id", {"ids": ids}
        )
        cursor.execute("ALTER TABLE reporting_ids ADD PRIMARY KEY (id)")
        cursor.execute("ANALYZE reporting_ids")
        # Everything the batch reads of the big tables is read once, within the range of its
        # ids: a batch is a few per cent of a million leads, and an import's new leads are
        # one range of ids (two ranges side by side interleave theirs), so the indexes give
        # PostgreSQL that range instead of a scan of every lead, log row and fact.
        within = {"low": ids[0], "high": ids[-1]}
        # The leads' row locks (the ones transitions take) queue refreshes of one lead, taken
        # in id order as every refresh takes them.
        _scratch(
            cursor,
            "reporting_leads",
            "SELECT l.id AS lead_id, l.stage, l.owner_id, coalesce(l.source, '') AS source"
            f" FROM {LEADS} l JOIN reporting_ids i ON i.id = l.id"
            " WHERE l.id BETWEEN %(low)s AND %(high)s ORDER BY l.id FOR UPDATE OF l",
            within,
        )
        _scratch(
            cursor,
            "reporting_log",
            "SELECT t.lead_id, t.id, t.at, t.from_stage, t.to_stage, t.verb,"
            f" coalesce(r.code, '') AS reason, {RANK_SQL} AS rank,"
            " lead(t.at) OVER (PARTITION BY t.lead_id ORDER BY t.at, t.id) AS next_at"
            f" FROM {LOG} t JOIN reporting_ids i ON i.id = t.lead_id"
            f" LEFT JOIN {REASONS} r ON r.id = t.reason_id"
            " WHERE t.lead_id BETWEEN %(low)s AND %(high)s",
            within,
        )
        _scratch(
            cursor,
            "reporting_members",
            "SELECT m.lead_id, jsonb_agg(DISTINCT m.campaign_id ORDER BY m.campaign_id) AS ids"
            f" FROM {MEMBERS} m JOIN reporting_ids i ON i.id = m.lead_id"
            " WHERE m.lead_id BETWEEN %(low)s AND %(high)s GROUP BY m.lead_id",
            within,
        )
        _scratch(
            cursor,
            "reporting_won",
            "SELECT o.lead_id, sum(o.amount) AS total"
            f" FROM {DEALS} o JOIN reporting_ids i ON i.id = o.lead_id"
            f" WHERE o.status = '{Opportunity.Status.WON.value}'"
            " AND o.lead_id BETWEEN %(low)s AND %(high)s GROUP BY o.lead_id",
            within,
        )
        # The facts there are (none for the leads an import creates).
        _scratch(
            cursor,
            "reporting_old",
            "SELECT f.lead_id, f.campaigns, f.source_key, f.owner_key, f.contribution"
            f" FROM {FACTS} f JOIN reporting_ids i ON i.id = f.lead_id"
            " WHERE f.lead_id BETWEEN %(low)s AND %(high)s",
            within,
        )
        cursor.execute("SELECT DISTINCT source FROM reporting_leads")
        # Source keys as Python makes them (facts.source_key): few distinct per batch.
        keys = {source: source_key(source) for (source,) in cursor.fetchall()}
        params = {
            "zone": str(timezone.get_default_timezone()),
            "sources": list(keys),
            "source_keys": list(keys.values()),
            "edges": list(BIN_EDGES_SECONDS),
        }
        cursor.execute("SELECT EXISTS (SELECT 1 FROM reporting_old)")
        replacing = cursor.fetchone()[0]
        if replacing:
            cursor.execute("ANALYZE reporting_old")
        write_facts = _new_facts(cursor, params)
        _apply_delta(cursor, params, replacing=replacing)
        if replacing:
            cursor.execute(
                f"DELETE FROM {FACTS} f USING reporting_old o WHERE f.lead_id = o.lead_id"
                " AND f.lead_id BETWEEN %(low)s AND %(high)s",
                within,
            )
            # A lead's durations are written and deleted with its fact.
            cursor.execute(
                f"DELETE FROM {DURATIONS} d USING reporting_old o WHERE d.lead_id = o.lead_id"
                " AND d.lead_id BETWEEN %(low)s AND %(high)s",
                within,
            )
        cursor.execute(write_facts, params)
        cursor.execute(
            f"INSERT INTO {DURATIONS} (lead_id, kind, stage, seconds, entered_on, source_key,"
            " owner_key)"
            " SELECT d.lead_id, d.kind, d.stage, d.seconds, n.entered_on, n.source_key,"
            " n.owner_key FROM reporting_durations d JOIN reporting_new n USING (lead_id)"
        )
        cursor.execute(f"DELETE FROM {PENDING} WHERE lead_id IN (SELECT id FROM reporting_ids)")
        for name in SCRATCH:
            cursor.execute(f"DROP TABLE {name}")
    return len(ids)


def _new_facts(cursor, params: dict) -> str:
    """reporting_new: one row per lead with a log, what LeadFact holds and what the count
    tables need; reporting_durations: its exact durations (LeadDuration's rows). Answers
    the statement that writes the facts, with their contributions."""
    # Per lead: when it entered, the first moment it reached each forward stage (or one past
    # it, if it skipped it), and what it did.
    first_at = ", ".join(
        f"min(at) FILTER (WHERE rank >= {rank}) AS {name}" for rank, name in enumerate(FIRST_AT)
    )
    # ... with the site's days of those moments: the day it entered, and DAY_AT[rank].
    days = ", ".join(
        f"{_day(f'f.{at}')} AS {day}" for at, day in zip(FIRST_AT, DAY_AT, strict=True)
    )
    _scratch(
        cursor,
        "reporting_per",
        f"SELECT f.*, {_day('f.entered_at')} AS day, {days} FROM ("
        " SELECT lead_id, min(at) AS entered_at, max(at) AS stage_since,"
        " coalesce(max(rank), -1) AS furthest, max(id) AS counted_through, count(*) AS rows,"
        f" {first_at},"
        " count(*) FILTER (WHERE verb = 'accept') AS accepts,"
        " count(*) FILTER (WHERE verb = 'reject') AS rejects,"
        " bool_or(to_stage = 'nurture') AS nurtured,"
        " bool_or(verb = 'recycle') AS recycled,"
        " bool_or(verb = 'unsubscribe' OR reason LIKE 'unsub%%') AS unsubscribed,"
        " bool_or(from_stage = 'opportunity' AND to_stage = 'nurture') AS lost_any"
        " FROM reporting_log GROUP BY lead_id) f",
        params,
    )
    # A lead with one log row into suspect has no duration (a list of new suspects, say):
    # when every lead is one, the durations are not looked for. (One row into a later stage
    # has its "to" durations, of 0 seconds.)
    cursor.execute("SELECT EXISTS (SELECT 1 FROM reporting_per WHERE rows > 1 OR furthest > 0)")
    timed = (
        "SELECT p.lead_id, 'to'::text AS kind, s.stage::text,"
        " floor(extract(epoch FROM s.at - p.entered_at))::bigint AS seconds"
        f" FROM reporting_per p CROSS JOIN LATERAL unnest({_stages_array()},"
        f" ARRAY[{', '.join(FIRST_AT)}]) AS s (stage, at)"
        f" WHERE s.at IS NOT NULL AND s.stage <> '{FORWARD_PATH[0]}'"
        " UNION ALL"
        " SELECT lead_id, 'in', to_stage::text,"
        " floor(extract(epoch FROM next_at - at))::bigint FROM reporting_log"
        " WHERE next_at IS NOT NULL"
    )
    if not cursor.fetchone()[0]:
        timed += " LIMIT 0"
    _scratch(cursor, "reporting_durations", timed, params)
    # The contribution is written as JSON text and cast once: building it with jsonb
    # functions costs PostgreSQL over twice as much. Every string in it is a day, a stage,
    # a kind or a slug, except verbs and reason codes, which are quoted by to_json.
    reached = " || ".join(
        f"CASE WHEN p.furthest >= {rank} THEN ',\"reached_{stage}\":1' ELSE '' END"
        for rank, stage in enumerate(FORWARD_PATH)
    )
    cohort = (
        "'{\"leads\":1,\"now_' || p.stage || '\":1' || "
        f"{reached}"
        " || CASE WHEN p.accepts > 0 THEN ',\"accepts\":' || p.accepts ELSE '' END"
        " || CASE WHEN p.rejects > 0 THEN ',\"rejects\":' || p.rejects ELSE '' END"
        " || CASE WHEN p.nurtured THEN ',\"nurtured\":1' ELSE '' END"
        " || CASE WHEN p.recycled THEN ',\"recycled\":1' ELSE '' END"
        " || CASE WHEN p.unsubscribed THEN ',\"unsubscribed\":1' ELSE '' END"
        " || CASE WHEN p.lost THEN ',\"lost\":1' ELSE '' END"
        " || CASE WHEN p.won_total <> 0"
        " THEN ',\"won_amount\":\"' || p.won_total || '\"' ELSE '' END"
        " || '}'"
    )
    # The days it first reached each forward stage never decrease with the stage (a stage's
    # first moment is the earliest of the rows at or past it), so the reach entries, one per
    # day in day order, are runs of equal days in stage order: built without a sort.
    runs = []
    for rank, stage in enumerate(FORWARD_PATH):
        here, before = DAY_AT[rank], DAY_AT[rank - 1] if rank else None
        start = f'\'["reach","\' || p.{here} || \'",[],{{"reached_{stage}":1\''
        if rank == 0:
            runs.append(start)
        else:
            runs.append(
                f"CASE WHEN p.{here} IS NULL THEN '' WHEN p.{here} = p.{before}"
                f" THEN ',\"reached_{stage}\":1' ELSE '}}],' || {start} END"
            )
    reach = "(" + " || ".join(runs) + " || '}]')"
    bins = (
        'SELECT b.lead_id, string_agg(\'["bins","\' || p.day || \'",["\' || b.kind'
        " || '\",\"' || b.stage || '\",' || b.bin || '],{\"n\":' || b.n"
        " || ',\"seconds\":' || b.seconds || '}]', ','"
        ' ORDER BY b.kind COLLATE "C", b.stage COLLATE "C", b.bin) AS entries'
        " FROM (SELECT lead_id, kind, stage,"
        " greatest(0, width_bucket(seconds, %(edges)s::bigint[]) - 1) AS bin,"
        " count(*) AS n, sum(seconds) AS seconds"
        " FROM reporting_durations GROUP BY 1, 2, 3, 4) b"
        " JOIN reporting_per p USING (lead_id) GROUP BY b.lead_id"
    )
    reasons = (
        "SELECT r.lead_id, string_agg('[\"reasons\",\"' || p.day || '\",['"
        " || to_json(r.verb)::text || ',' || to_json(r.reason)::text"
        " || '],{\"n\":' || r.n || '}]', ','"
        ' ORDER BY r.verb COLLATE "C", r.reason COLLATE "C") AS entries'
        " FROM (SELECT lead_id, verb, reason, count(*) AS n FROM reporting_log"
        " WHERE reason <> '' GROUP BY 1, 2, 3) r"
        " JOIN reporting_per p USING (lead_id) GROUP BY r.lead_id"
    )
    _scratch(
        cursor,
        "reporting_new",
        "SELECT p.lead_id, p.entered_at, p.day::date AS entered_on, p.day, l.stage,"
        " p.stage_since, p.furthest::smallint AS furthest,"
        " coalesce(k.key, '=') AS source_key, coalesce(l.owner_id, 0) AS owner_key,"
        " coalesce(c.ids, '[]'::jsonb) AS campaigns, p.counted_through,"
        " p.accepts, p.rejects, p.nurtured, p.recycled, p.unsubscribed,"
        f" p.furthest < {CUSTOMER} AND p.lost_any AS lost, w.total AS won_total,"
        f" {', '.join(f'p.{n}' for n in DAY_AT)}"
        " FROM reporting_per p JOIN reporting_leads l USING (lead_id)"
        " LEFT JOIN unnest(%(sources)s::text[], %(source_keys)s::text[]) AS k (source, key)"
        " ON k.source = l.source"
        " LEFT JOIN reporting_members c USING (lead_id)"
        " LEFT JOIN reporting_won w USING (lead_id)",
        params,
    )
    # The facts, their contributions written out of reporting_new (alias p) as they go in.
    return (
        f"INSERT INTO {FACTS} (lead_id, entered_at, entered_on, stage, stage_since,"
        " furthest, source_key, owner_key, campaigns, contribution, counted_through,"
        " refreshed_at)"
        " SELECT p.lead_id, p.entered_at, p.entered_on, p.stage, p.stage_since, p.furthest,"
        " p.source_key, p.owner_key, p.campaigns,"
        f" ('[[\"cohort\",\"' || p.day || '\",[],' || {cohort} || ']'"
        f" || coalesce(',' || {reach}, '') || coalesce(',' || bi.entries, '')"
        " || coalesce(',' || rs.entries, '') || ']')::jsonb,"
        " p.counted_through, now()"
        " FROM reporting_new p"
        f" LEFT JOIN ({bins}) bi ON bi.lead_id = p.lead_id"
        f" LEFT JOIN ({reasons}) rs ON rs.lead_id = p.lead_id"
        " ORDER BY p.lead_id"
    )


def _added(table: str, values) -> str:
    """The new facts' rows for one count table, summed per day and dimensions: the figures
    their contributions hold (the property test compares both with the per-lead path)."""
    dims = "n.campaigns::text AS campaigns, n.source_key::text AS source_key, n.owner_key"
    if table == "cohort":
        rank = {f"reached_{stage}": r for r, stage in enumerate(FORWARD_PATH)}
        flags = ("nurtured", "recycled", "unsubscribed", "lost")

        def column(name: str) -> str:
            if name == "leads":
                return "count(*)"
            if name.startswith("now_"):
                return f"count(*) FILTER (WHERE n.stage = '{name[4:]}')"
            if name in rank:
                return f"count(*) FILTER (WHERE n.furthest >= {rank[name]})"
            if name in flags:
                return f"count(*) FILTER (WHERE n.{name})"
            if name == "won_amount":
                return "coalesce(sum(n.won_total), 0)"
            return f"sum(n.{name})"  # accepts, rejects

        figures = ", ".join(f"{column(name)} AS {name}" for name in values)
        return (
            f"SELECT n.entered_on AS day, {dims}, {figures} FROM reporting_new n"
            " GROUP BY 1, 2, 3, 4"
        )
    if table == "reach":
        figures = ", ".join(
            f"count(*) FILTER (WHERE r.stage = '{name.removeprefix('reached_')}') AS {name}"
            for name in values
        )
        firsts = " UNION ALL ".join(
            f"SELECT n.{day}::date AS day, {dims}, '{stage}' AS stage FROM reporting_new n"
            f" WHERE n.{day} IS NOT NULL"
            for stage, day in zip(FORWARD_PATH, DAY_AT, strict=True)
        )
        return (
            "SELECT r.day, r.campaigns, r.source_key, r.owner_key, "
            f"{figures} FROM ({firsts}) r GROUP BY 1, 2, 3, 4"
        )
    if table == "bins":
        return (
            f"SELECT n.entered_on AS day, {dims}, d.kind, d.stage::text AS stage,"
            " greatest(0, width_bucket(d.seconds, %(edges)s::bigint[]) - 1)::smallint AS bin,"
            " count(*) AS n, sum(d.seconds) AS seconds"
            " FROM reporting_durations d JOIN reporting_new n USING (lead_id)"
            " GROUP BY 1, 2, 3, 4, 5, 6, 7"
        )
    assert table == "reasons"
    return (
        f"SELECT n.entered_on AS day, {dims}, g.verb::text AS verb, g.reason::text AS reason,"
        " count(*) AS n"
        " FROM reporting_log g JOIN reporting_new n USING (lead_id) WHERE g.reason <> ''"
        " GROUP BY 1, 2, 3, 4, 5, 6"
    )


def _apply_delta(cursor, params: dict, *, replacing: bool) -> None:
    """The old facts' contributions taken away (read from their JSON) and the new facts'
    added (from the scratch tables, which hold the same figures without parsing them back),
    per count-table row: leads that share a day and dimensions are summed first, then
    spread over the dimension combinations and both grains (day and month)."""
    for table, (model, extra, values) in TABLES.items():
        keys = ["grain", "period", "campaign_key", "source_key", "owner_key", *extra]
        extra_names = "".join(f", b.{name}" for name in extra)
        group = ", ".join(str(i) for i in range(1, len(keys) + 1))
        # In the order the per-lead path writes its rows (the keys as text), so that a batch
        # and a single move never wait on each other in a cycle.
        selected = ["g.grain", "g.period", "c.key", "s.key", "o.key", *(f"b.{n}" for n in extra)]
        order = ", ".join(f'{name}::text COLLATE "C"' for name in selected)
        taken = (
            contributions_sql(table, "reporting_old", sign="-") + " UNION ALL" if replacing else ""
        )
        db_table = model._meta.db_table
        updates = ", ".join(f"{c} = {db_table}.{c} + excluded.{c}" for c in values)
        cursor.execute(
            f"""
            WITH base AS (
                {taken}
                {_added(table, values)}
            )
            INSERT INTO {db_table} ({", ".join(keys + list(values))})
            SELECT g.grain, g.period, c.key, s.key, o.key{extra_names},
                   {", ".join(f"SUM(b.{column})" for column in values)}
            FROM base b
            CROSS JOIN LATERAL (
                VALUES ('d'::text, b.day), ('m'::text, date_trunc('month', b.day::timestamp)::date)
            ) AS g(grain, period) {SPREAD_SQL}
            WHERE {_subset_condition(table)}
            GROUP BY {group}
            HAVING {" OR ".join(f"SUM(b.{column}) <> 0" for column in values)}
            ORDER BY {order}
            ON CONFLICT ({", ".join(keys)}) DO UPDATE SET {updates}
            """,
            {**params, "table": table},
        )
