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
from .services import SUBSETS, TABLES

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


def _day(expression: str) -> str:
    """The site's day of a moment, as the facts write it (ISO, e.g. 2025-01-06)."""
    return f"to_char(({expression} AT TIME ZONE %(zone)s)::date, 'YYYY-MM-DD')"


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
        _scratch(
            cursor, "reporting_ids", "SELECT DISTINCT unnest(%(ids)s::bigint[]) AS id", {"ids": ids}
        )
        cursor.execute("ALTER TABLE reporting_ids ADD PRIMARY KEY (id)")
        cursor.execute("ANALYZE reporting_ids")
        # The leads' row locks (the ones transitions take) queue refreshes of one lead, in
        # id order as every refresh takes them.
        cursor.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM {LEADS} WHERE id IN"
            " (SELECT id FROM reporting_ids) ORDER BY id FOR UPDATE) locked"
        )
        cursor.execute(
            f"SELECT DISTINCT l.source FROM {LEADS} l JOIN reporting_ids i ON i.id = l.id"
        )
        # Source keys as Python makes them (facts.source_key): few distinct per batch.
        keys = {source or "": source_key(source) for (source,) in cursor.fetchall()}
        params = {
            "zone": str(timezone.get_default_timezone()),
            "sources": list(keys),
            "source_keys": list(keys.values()),
            "edges": list(BIN_EDGES_SECONDS),
        }
        _new_facts(cursor, params)
        _apply_delta(cursor)
        cursor.execute(f"DELETE FROM {FACTS} WHERE lead_id IN (SELECT id FROM reporting_ids)")
        cursor.execute(
            f"INSERT INTO {FACTS} (lead_id, entered_at, entered_on, stage, stage_since,"
            " furthest, source_key, owner_key, campaigns, contribution, counted_through,"
            " refreshed_at)"
            " SELECT lead_id, entered_at, entered_on, stage, stage_since, furthest,"
            " source_key, owner_key, campaigns, contribution, counted_through, now()"
            " FROM reporting_new ORDER BY lead_id"
        )
        cursor.execute(f"DELETE FROM {DURATIONS} WHERE lead_id IN (SELECT id FROM reporting_ids)")
        cursor.execute(
            f"INSERT INTO {DURATIONS} (lead_id, kind, stage, seconds, entered_on, source_key,"
            " owner_key)"
            " SELECT d.lead_id, d.kind, d.stage, d.seconds, n.entered_on, n.source_key,"
            " n.owner_key FROM reporting_durations d JOIN reporting_new n USING (lead_id)"
        )
        cursor.execute(f"DELETE FROM {PENDING} WHERE lead_id IN (SELECT id FROM reporting_ids)")
        for name in ("reporting_ids", "reporting_log", "reporting_per", "reporting_durations"):
            cursor.execute(f"DROP TABLE {name}")
        cursor.execute("DROP TABLE reporting_new")
    return len(ids)


def _new_facts(cursor, params: dict) -> None:
    """reporting_new: one row per lead with a log, as LeadFact holds it;
    reporting_durations: its exact durations (LeadDuration's rows)."""
    # The log rows, each with the moment of the next one (how long the stay lasted).
    _scratch(
        cursor,
        "reporting_log",
        f"SELECT t.lead_id, t.id, t.at, t.from_stage, t.to_stage, t.verb,"
        f" coalesce(r.code, '') AS reason, {RANK_SQL} AS rank,"
        " lead(t.at) OVER (PARTITION BY t.lead_id ORDER BY t.at, t.id) AS next_at"
        f" FROM {LOG} t JOIN reporting_ids i ON i.id = t.lead_id"
        f" LEFT JOIN {REASONS} r ON r.id = t.reason_id",
        params,
    )
    # Per lead: when it entered, the first moment it reached each forward stage (or one past
    # it, if it skipped it), and what it did.
    first_at = ", ".join(
        f"min(at) FILTER (WHERE rank >= {rank}) AS {name}" for rank, name in enumerate(FIRST_AT)
    )
    _scratch(
        cursor,
        "reporting_per",
        "SELECT lead_id, min(at) AS entered_at, max(at) AS stage_since,"
        " coalesce(max(rank), -1) AS furthest, max(id) AS counted_through,"
        f" {first_at},"
        " count(*) FILTER (WHERE verb = 'accept') AS accepts,"
        " count(*) FILTER (WHERE verb = 'reject') AS rejects,"
        " bool_or(to_stage = 'nurture') AS nurtured,"
        " bool_or(verb = 'recycle') AS recycled,"
        " bool_or(verb = 'unsubscribe' OR reason LIKE 'unsub%%') AS unsubscribed,"
        " bool_or(from_stage = 'opportunity' AND to_stage = 'nurture') AS lost_any"
        " FROM reporting_log GROUP BY lead_id",
        params,
    )
    _scratch(
        cursor,
        "reporting_durations",
        "SELECT p.lead_id, 'to'::text AS kind, s.stage,"
        " floor(extract(epoch FROM s.at - p.entered_at))::bigint AS seconds"
        f" FROM reporting_per p CROSS JOIN LATERAL unnest({_stages_array()},"
        f" ARRAY[{', '.join(FIRST_AT)}]) AS s (stage, at)"
        f" WHERE s.at IS NOT NULL AND s.stage <> '{FORWARD_PATH[0]}'"
        " UNION ALL"
        " SELECT lead_id, 'in', to_stage, floor(extract(epoch FROM next_at - at))::bigint"
        " FROM reporting_log WHERE next_at IS NOT NULL",
        params,
    )
    reached = ", ".join(
        f"'reached_{stage}', CASE WHEN p.furthest >= {rank} THEN 1 END"
        for rank, stage in enumerate(FORWARD_PATH)
    )
    cohort = (
        "jsonb_strip_nulls(jsonb_build_object('leads', 1, 'now_' || l.stage, 1, "
        f"{reached}, 'accepts', nullif(p.accepts, 0), 'rejects', nullif(p.rejects, 0),"
        " 'nurtured', CASE WHEN p.nurtured THEN 1 END,"
        " 'recycled', CASE WHEN p.recycled THEN 1 END,"
        " 'unsubscribed', CASE WHEN p.unsubscribed THEN 1 END,"
        f" 'lost', CASE WHEN p.furthest < {CUSTOMER} AND p.lost_any THEN 1 END,"
        " 'won_amount', CASE WHEN w.total <> 0 THEN w.total::text END))"
    )
    reach = (
        "SELECT lead_id, jsonb_agg(jsonb_build_array('reach', day, '[]'::jsonb, columns)"
        ' ORDER BY day COLLATE "C") AS entries FROM ('
        f" SELECT p.lead_id, {_day('s.at')} AS day,"
        " jsonb_object_agg('reached_' || s.stage, 1) AS columns"
        f" FROM reporting_per p CROSS JOIN LATERAL unnest({_stages_array()},"
        f" ARRAY[{', '.join(FIRST_AT)}]) AS s (stage, at) WHERE s.at IS NOT NULL"
        " GROUP BY 1, 2) x GROUP BY lead_id"
    )
    bins = (
        "SELECT b.lead_id, jsonb_agg(jsonb_build_array('bins', p.day,"
        " jsonb_build_array(b.kind, b.stage, b.bin), jsonb_build_object('n', b.n, 'seconds',"
        ' b.seconds)) ORDER BY b.kind COLLATE "C", b.stage COLLATE "C", b.bin) AS entries'
        " FROM (SELECT lead_id, kind, stage,"
        " greatest(0, width_bucket(seconds, %(edges)s::bigint[]) - 1) AS bin,"
        " count(*) AS n, sum(seconds) AS seconds"
        " FROM reporting_durations GROUP BY 1, 2, 3, 4) b"
        f" JOIN (SELECT lead_id, {_day('entered_at')} AS day FROM reporting_per) p"
        " USING (lead_id) GROUP BY b.lead_id"
    )
    reasons = (
        "SELECT r.lead_id, jsonb_agg(jsonb_build_array('reasons', p.day,"
        " jsonb_build_array(r.verb, r.reason), jsonb_build_object('n', r.n))"
        ' ORDER BY r.verb COLLATE "C", r.reason COLLATE "C") AS entries'
        " FROM (SELECT lead_id, verb, reason, count(*) AS n FROM reporting_log"
        " WHERE reason <> '' GROUP BY 1, 2, 3) r"
        f" JOIN (SELECT lead_id, {_day('entered_at')} AS day FROM reporting_per) p"
        " USING (lead_id) GROUP BY r.lead_id"
    )
    campaigns = (
        "SELECT lead_id, jsonb_agg(DISTINCT campaign_id ORDER BY campaign_id) AS ids"
        f" FROM {MEMBERS} WHERE lead_id IN (SELECT id FROM reporting_ids) GROUP BY lead_id"
    )
    won = (
        "SELECT lead_id, sum(amount) AS total"
        f" FROM {DEALS} WHERE lead_id IN (SELECT id FROM reporting_ids)"
        f" AND status = '{Opportunity.Status.WON.value}' GROUP BY lead_id"
    )
    day = _day("p.entered_at")
    _scratch(
        cursor,
        "reporting_new",
        f"SELECT p.lead_id, p.entered_at, ({day})::date AS entered_on, l.stage,"
        " p.stage_since, p.furthest::smallint AS furthest,"
        " coalesce(k.key, '=') AS source_key, coalesce(l.owner_id, 0) AS owner_key,"
        " coalesce(c.ids, '[]'::jsonb) AS campaigns,"
        f" jsonb_build_array(jsonb_build_array('cohort', {day}, '[]'::jsonb, {cohort}))"
        " || coalesce(re.entries, '[]'::jsonb) || coalesce(bi.entries, '[]'::jsonb)"
        " || coalesce(rs.entries, '[]'::jsonb) AS contribution,"
        " p.counted_through"
        f" FROM reporting_per p JOIN {LEADS} l ON l.id = p.lead_id"
        " LEFT JOIN unnest(%(sources)s::text[], %(source_keys)s::text[]) AS k (source, key)"
        " ON k.source = coalesce(l.source, '')"
        f" LEFT JOIN ({campaigns}) c ON c.lead_id = p.lead_id"
        f" LEFT JOIN ({won}) w ON w.lead_id = p.lead_id"
        f" LEFT JOIN ({reach}) re ON re.lead_id = p.lead_id"
        f" LEFT JOIN ({bins}) bi ON bi.lead_id = p.lead_id"
        f" LEFT JOIN ({reasons}) rs ON rs.lead_id = p.lead_id",
        params,
    )


EXTRA_SQL = {
    "kind": "e.v->2->>0",
    "stage": "e.v->2->>1",
    "bin": "(e.v->2->>2)::smallint",
    "verb": "e.v->2->>0",
    "reason": "e.v->2->>1",
}


def _subset_condition(table: str) -> str:
    """Which combinations of campaign / source / owner the table keeps (services.SUBSETS):
    every one, or the histograms' unfiltered row and one per single dimension."""
    if len(SUBSETS[table]) == 8:
        return "TRUE"
    return "((c.key <> 0)::int + (s.key <> '*')::int + (o.key <> -1)::int) <= 1"


def _apply_delta(cursor) -> None:
    """The old facts' contributions taken away and the new ones added, per count-table row:
    leads that share a day and dimensions are summed first, then spread over the dimension
    combinations and both grains (day and month)."""
    for table, (model, extra, values) in TABLES.items():
        keys = ["grain", "period", "campaign_key", "source_key", "owner_key", *extra]
        cast = {column: "numeric" if column == "won_amount" else "bigint" for column in values}
        extra_base = "".join(f", {EXTRA_SQL[name]} AS {name}" for name in extra)
        extra_names = "".join(f", b.{name}" for name in extra)
        base_values = ", ".join(
            f"SUM(x.sign * COALESCE((e.v->3->>'{column}')::{cast[column]}, 0)) AS {column}"
            for column in values
        )
        group = ", ".join(str(i) for i in range(1, len(keys) + 1))
        # In the order the per-lead path writes its rows (the keys as text), so that a batch
        # and a single move never wait on each other in a cycle.
        selected = ["g.grain", "g.period", "c.key", "s.key", "o.key", *(f"b.{n}" for n in extra)]
        order = ", ".join(f'{name}::text COLLATE "C"' for name in selected)
        db_table = model._meta.db_table
        updates = ", ".join(f"{c} = {db_table}.{c} + excluded.{c}" for c in values)
        cursor.execute(
            f"""
            WITH x AS (
                SELECT -1 AS sign, f.contribution, f.campaigns, f.source_key, f.owner_key
                FROM {FACTS} f WHERE f.lead_id IN (SELECT id FROM reporting_ids)
                UNION ALL
                SELECT 1, n.contribution, n.campaigns, n.source_key, n.owner_key
                FROM reporting_new n
            ), base AS (
                SELECT (e.v->>1)::date AS day, x.campaigns::text AS campaigns,
                       x.source_key, x.owner_key{extra_base}, {base_values}
                FROM x CROSS JOIN LATERAL jsonb_array_elements(x.contribution) AS e(v)
                WHERE e.v->>0 = %(table)s
                GROUP BY 1, 2, 3, 4{"".join(f", {5 + i}" for i in range(len(extra)))}
            )
            INSERT INTO {db_table} ({", ".join(keys + list(values))})
            SELECT g.grain, g.period, c.key, s.key, o.key{extra_names},
                   {", ".join(f"SUM(b.{column})" for column in values)}
            FROM base b
            CROSS JOIN LATERAL (
                VALUES ('d'::text, b.day), ('m'::text, date_trunc('month', b.day::timestamp)::date)
            ) AS g(grain, period)
            CROSS JOIN LATERAL (
                SELECT 0 AS key
                UNION ALL SELECT v::int FROM jsonb_array_elements_text(b.campaigns::jsonb) AS v
            ) AS c
            CROSS JOIN LATERAL (VALUES ('*'::text), (b.source_key::text)) AS s(key)
            CROSS JOIN LATERAL (VALUES (-1), (b.owner_key)) AS o(key)
            WHERE {_subset_condition(table)}
            GROUP BY {group}
            HAVING {" OR ".join(f"SUM(b.{column}) <> 0" for column in values)}
            ORDER BY {order}
            ON CONFLICT ({", ".join(keys)}) DO UPDATE SET {updates}
            """,
            {"table": table},
        )
