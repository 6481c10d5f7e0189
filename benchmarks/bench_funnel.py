"""/api/funnel/ at scale: its p95 at 1,000,000 leads (5,000,000 log rows) against its p95 at
10,000 leads (target <= 2x), and against a naive GROUP BY over the log (target <= 1/10).

The leads are loaded with INSERT ... SELECT generate_series (PostgreSQL only), spread over
the same two years at both sizes; the rollups are then built by `rollups_rebuild`, the
code behind `manage.py rebuild_rollups`, and the database vacuumed (as autovacuum leaves it
after a bulk write) before the requests are timed. HANDOFF_BENCH_LEADS shrinks the big size
(HANDOFF_BENCH_SMALL the small one), HANDOFF_BENCH_REQUESTS the requests per size.
"""

import os
import random
import statistics
import time

from benchmarks.harness import Skip, Timer, bench_database

SPAN_DAYS = 730
# Paths through the funnel and how often they occur (per 20 leads): 5 log rows on average.
PATHS = (
    (1, ["suspect"]),
    (2, ["suspect", "mql"]),
    (3, ["suspect", "mql", "nurture"]),
    (2, ["suspect", "mql", "sal", "sql"]),
    (3, ["suspect", "mql", "sal", "sql", "opportunity"]),
    (3, ["suspect", "mql", "sal", "sql", "opportunity", "customer"]),
    (3, ["suspect", "mql", "nurture", "mql", "sal", "sql", "opportunity"]),
    (3, ["suspect", "mql", "nurture", "mql", "sal", "sql", "opportunity", "customer"]),
)
VERBS = {
    ("", "suspect"): "create",
    ("suspect", "mql"): "engage",
    ("mql", "nurture"): "reject",
    ("mql", "sal"): "accept",
    ("sal", "sql"): "qualify",
    ("sql", "opportunity"): "convert",
    ("opportunity", "customer"): "win",
    ("nurture", "mql"): "recycle",
}
SOURCES = ("web", "referral", "event", "partner", "paid")
CAMPAIGNS = 6
REPS = 8


def _percentile(values, fraction=0.95):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _sql_array(items):
    return "ARRAY[" + ",".join(f"'{item}'" for item in items) + "]::text[]"


def _load(cursor, first: int, last: int, campaign_ids, rep_ids, reason_id, stage_id, now):
    """Leads first..last (ids), their log, campaign memberships and won deals."""
    from django.db import DatabaseError, transaction

    slots = [path for weight, path in PATHS for _ in range(weight)]
    # The generated rows are consistent by construction: skip the deferred foreign-key
    # checks, which would take longer than the load itself (superuser only; else checked).
    try:
        with transaction.atomic():
            cursor.execute("SET LOCAL session_replication_role = replica")
    except DatabaseError:
        pass
    # One row per lead: which path, when it entered, the gap between its moves.
    cursor.execute(
        "CREATE TEMP TABLE bench_plan ON COMMIT DROP AS "
        "SELECT g AS id, (hashint4(g) & 2147483647) %% %s AS slot, "
        "%s::timestamptz - make_interval(secs => ((hashint4(g + 7) & 2147483647) %% %s)) "
        "AS entered, "
        "7200 + ((hashint4(g + 13) & 2147483647) %% 1700000) AS gap "
        "FROM generate_series(%s, %s) g",
        [len(slots), now, SPAN_DAYS * 86400, first, last],
    )
    cases = " ".join(f"WHEN {i} THEN {_sql_array(path)}" for i, path in enumerate(slots))
    cursor.execute(
        f"CREATE TEMP TABLE bench_steps ON COMMIT DROP AS "
        f"SELECT p.id, s.k, s.stage, "
        f"lag(s.stage, 1, '') OVER (PARTITION BY p.id ORDER BY s.k) AS prev, "
        f"p.entered + make_interval(secs => (s.k - 1) * p.gap + CASE WHEN s.k > 1 "
        f"THEN (hashint4((p.id * 8 + s.k)::int) & 2147483647) %% (p.gap / 2) ELSE 0 END) AS at "
        f"FROM bench_plan p, unnest(CASE p.slot {cases} END) WITH ORDINALITY AS s(stage, k)",
        [],
    )
    owners = "ARRAY[" + ",".join(str(i) for i in rep_ids) + "]"
    cursor.execute(
        f"""
        INSERT INTO leads_lead (id, email, external_id, first_name, last_name, company, title,
            phone, country, city, industry, company_size, website, source, owner_id, do_not_email,
            attributes, stage, stage_changed_at, score, created_at, updated_at)
        SELECT p.id, 'lead' || p.id || '@bench.example', NULL, 'Lead', p.id::text, 'Co', '', '',
            '', '', '', NULL, '', (ARRAY{list(SOURCES)})[1 + p.id %% {len(SOURCES)}],
            CASE WHEN p.id %% 5 = 0 THEN NULL ELSE ({owners})[1 + p.id %% {len(rep_ids)}] END,
            false, '{{}}', last.stage, last.at, 0, p.entered, p.entered
        FROM bench_plan p
        JOIN (SELECT DISTINCT ON (id) id, stage, at FROM bench_steps ORDER BY id, k DESC) last
            ON last.id = p.id
        """,
        [],
    )
    verb_case = " ".join(
        f"WHEN s.prev = '{a}' AND s.stage = '{b}' THEN '{verb}'" for (a, b), verb in VERBS.items()
    )
    cursor.execute(
        f"""
        INSERT INTO funnel_transition (lead_id, from_stage, to_stage, verb, actor_id, system_actor,
            at, reason_id, note, campaign_id, data)
        SELECT s.id, s.prev, s.stage, CASE {verb_case} END, NULL, 'bench', s.at,
            CASE WHEN s.stage = 'nurture' THEN %s END, '', NULL, '{{}}'
        FROM bench_steps s
        """,
        [reason_id],
    )
    campaigns = "ARRAY[" + ",".join(str(i) for i in campaign_ids) + "]"
    cursor.execute(
        f"""
        INSERT INTO campaigns_campaignmembership
            (lead_id, campaign_id, joined_at, how, touched_at, touches)
        SELECT p.id, ({campaigns})[1 + p.id %% {len(campaign_ids)}], p.entered, 'import',
            p.entered, 1
        FROM bench_plan p
        UNION ALL
        SELECT p.id, ({campaigns})[1 + (p.id + 1) %% {len(campaign_ids)}], p.entered, 'import',
            p.entered, 1
        FROM bench_plan p WHERE p.id %% 5 = 1
        """,
        [],
    )
    cursor.execute(
        """
        INSERT INTO funnel_opportunity (lead_id, amount, currency, expected_close, owner_id,
            pipeline_stage_id, status, created_at, closed_at)
        SELECT s.id, 1000 + (s.id %% 50) * 100, 'EUR', s.at::date, NULL, %s, 'won', s.at, s.at
        FROM bench_steps s WHERE s.stage = 'customer'
        """,
        [stage_id],
    )
    cursor.execute("SELECT count(*) FROM bench_steps")
    rows = cursor.fetchone()[0]
    cursor.execute("DROP TABLE bench_steps; DROP TABLE bench_plan")
    return rows


def _requests(rng, campaigns, reps, count):
    """A manager's mix: unfiltered, date ranges, one filter, one filter with a range."""
    urls = []
    for index in range(count):
        params = {}
        kind = index % 5
        if kind in (1, 4):
            start = rng.randrange(SPAN_DAYS - 30)
            length = rng.randrange(7, SPAN_DAYS - start)
            today = time.time()
            since = time.strftime("%Y-%m-%d", time.gmtime(today - (SPAN_DAYS - start) * 86400))
            until = time.strftime(
                "%Y-%m-%d", time.gmtime(today - (SPAN_DAYS - start - length) * 86400)
            )
            params.update(since=since, until=until)
        if kind in (2, 4):
            params["campaign"] = rng.choice(campaigns)
        if kind == 3:
            params[rng.choice(("source", "owner"))] = None
            if "source" in params:
                params["source"] = rng.choice(SOURCES)
            else:
                params["owner"] = rng.choice(reps)
        urls.append("/api/funnel/?" + "&".join(f"{k}={v}" for k, v in params.items()))
    return urls


def _measure(client, urls):
    for url in urls[:5]:
        client.get(url)  # warm caches and connections
    times = []
    for url in urls:
        with Timer() as timer:
            response = client.get(url)
        assert response.status_code == 200, (url, response.status_code, response.content[:300])
        times.append(timer.seconds)
    return times


def _pages(client, count=20):
    times = []
    for index in range(count):
        url = "/dashboard/" if index % 2 else "/dashboard/?since=2025-01-10&until=2025-11-20"
        with Timer() as timer:
            response = client.get(url)
        assert response.status_code == 200
        times.append(timer.seconds)
    return _percentile(times)


def _combined(client, campaigns, reps, count=10):
    times = []
    for index in range(count):
        campaign, owner = campaigns[index % len(campaigns)], reps[index % len(reps)]
        url = f"/api/funnel/?campaign={campaign}&owner={owner}"
        with Timer() as timer:
            client.get(url)
        times.append(timer.seconds)
    return _percentile(times)


NAIVE = """
SELECT l.stage, f.furthest, count(*)
FROM (
    SELECT lead_id, min(at) AS entered,
           max(CASE to_stage WHEN 'suspect' THEN 0 WHEN 'mql' THEN 1 WHEN 'sal' THEN 2
               WHEN 'sql' THEN 3 WHEN 'opportunity' THEN 4 WHEN 'customer' THEN 5 END) AS furthest
    FROM funnel_transition GROUP BY lead_id
) f JOIN leads_lead l ON l.id = f.lead_id
GROUP BY l.stage, f.furthest
"""


def run() -> dict:
    from django.db import connection

    if connection.vendor != "postgresql":
        raise Skip("needs PostgreSQL: set DATABASE_URL=postgres://...")
    big = int(os.environ.get("HANDOFF_BENCH_LEADS", 1_000_000))
    small = min(big, int(os.environ.get("HANDOFF_BENCH_SMALL", 10_000)))
    request_count = int(os.environ.get("HANDOFF_BENCH_REQUESTS", 100))
    with bench_database():
        return _run(big, small, request_count)


def _run(big, small, request_count) -> dict:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db import connection, transaction
    from django.test import Client
    from django.utils import timezone

    from campaigns.models import Campaign
    from funnel.models import PipelineStage, ReasonCode
    from reporting.services import rollups_rebuild

    users = get_user_model()
    manager = users.objects.create_user("bench-manager", password="bench-password-1")
    manager.groups.add(Group.objects.get_or_create(name="manager")[0])
    rep_group = Group.objects.get_or_create(name="sales_rep")[0]
    reps = []
    for index in range(REPS):
        rep = users.objects.create_user(f"bench-rep{index}", password="bench-password-1")
        rep.groups.add(rep_group)
        reps.append(rep)
    campaigns = [
        Campaign.objects.create(name=f"Campaign {index}", slug=f"campaign-{index}")
        for index in range(CAMPAIGNS)
    ]
    reason = ReasonCode.objects.get(code="not_ready_yet")
    stage = PipelineStage.objects.order_by("order").first()
    now = timezone.now()
    rng = random.Random(7)
    slugs = [c.slug for c in campaigns]
    names = [r.username for r in reps]
    client = Client()
    client.force_login(manager)
    figures = {"leads_small": small, "leads_big": big}

    def load(first, last):
        with Timer() as loading, transaction.atomic(), connection.cursor() as cursor:
            rows = _load(cursor, first, last, [c.pk for c in campaigns], [r.pk for r in reps],
                         reason.pk, stage.pk, now)  # fmt: skip
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        return rows, loading.seconds

    def settle():
        # What autovacuum does soon after a bulk write (PostgreSQL 13+ vacuums a table after
        # many inserts): the visibility map set, so the medians' index-only scans read the
        # index alone; measured right after the COPY they would visit every table page too.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")

    rows_small, seconds = load(1, small)
    with Timer() as rebuilding:
        rollups_rebuild()
    settle()
    small_times = _measure(client, _requests(rng, slugs, names, request_count))
    figures.update(
        log_rows_small=rows_small,
        load_seconds_small=round(seconds, 2),
        rebuild_seconds_small=round(rebuilding.seconds, 2),
        api_p95_ms_small=round(_percentile(small_times) * 1000, 2),
        combined_filter_p95_ms_small=round(_combined(client, slugs, names) * 1000, 2),
        dashboard_page_p95_ms_small=round(_pages(client) * 1000, 2),
    )

    rows_big, seconds = load(small + 1, big)
    with connection.cursor() as cursor:
        cursor.execute("SELECT setval(pg_get_serial_sequence('leads_lead', 'id'), %s)", [big])
    with Timer() as rebuilding:
        rollups_rebuild()
    settle()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM dashboards_cohortcount")
        cohort_rows = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM dashboards_durationbin")
        bin_rows = cursor.fetchone()[0]
    big_times = _measure(client, _requests(rng, slugs, names, request_count))
    naive = []
    with connection.cursor() as cursor:
        for _ in range(3):
            with Timer() as timer:
                cursor.execute(NAIVE)
                cursor.fetchall()
            naive.append(timer.seconds)
    api_big = _percentile(big_times)
    api_small = _percentile(small_times)
    naive_p95 = _percentile(naive)
    figures.update(
        log_rows_big=rows_small + rows_big,
        load_seconds_big=round(seconds, 2),
        rebuild_seconds_big=round(rebuilding.seconds, 2),
        rollup_rows_cohort=cohort_rows,
        rollup_rows_bins=bin_rows,
        api_p95_ms_big=round(api_big * 1000, 2),
        api_median_ms_big=round(statistics.median(big_times) * 1000, 2),
        naive_group_by_p95_ms=round(naive_p95 * 1000, 2),
        combined_filter_p95_ms_big=round(_combined(client, slugs, names) * 1000, 2),
        dashboard_page_p95_ms_big=round(_pages(client) * 1000, 2),
        ratio_big_to_small=round(api_big / api_small, 3),
        ratio_api_to_naive=round(api_big / naive_p95, 4),
    )
    figures["meets_target"] = (
        figures["ratio_big_to_small"] <= 2 and figures["ratio_api_to_naive"] <= 0.1
    )
    return figures
