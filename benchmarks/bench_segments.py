"""Segment counts on a million leads (mautic #9634: minutes for 700k contacts).

Loads HANDOFF_BENCH_LEADS leads (default 1,000,000) with one INSERT ... SELECT over
generate_series, then times each segment's count through the real engine
(`campaigns.selectors.segment_leads(...).count()`) against two baselines in the same run:
`SELECT count(*)` of the whole table (PostgreSQL answers it from a small index) and a count
that has to read every row (`WHERE length(first_name) >= 0`), which is what any filter over
text or JSON attributes costs without an index. Target: every segment count under a second.
"""

import os
import statistics

from benchmarks.harness import Timer, bench_database

TARGET_MS = 1000
REPEAT = 5

SEGMENTS = {
    "dach_software_200plus (all of 3)": (
        "all",
        [
            {"field": "country", "operator": "in", "value": ["Germany", "Austria", "Switzerland"]},
            {"field": "industry", "operator": "contains", "value": "soft"},
            {"field": "company_size", "operator": "at_least", "value": 200},
        ],
    ),
    "mql_or_pro_plan (any of 2)": (
        "any",
        [
            {"field": "stage", "operator": "equals", "value": "mql"},
            {"field": "attributes.plan", "operator": "equals", "value": "pro"},
        ],
    ),
    "seats_at_least_50 (attribute as number)": (
        "all",
        [{"field": "attributes.seats", "operator": "at_least", "value": 50}],
    ),
    "title_contains_marketing": (
        "all",
        [{"field": "title", "operator": "contains", "value": "marketing"}],
    ),
}

LOAD_SQL = """
INSERT INTO leads_lead (
    email, external_id, first_name, last_name, company, title, phone, country, city, industry,
    company_size, website, source, owner_id, do_not_email, attributes, stage, stage_changed_at,
    score, created_at, updated_at
)
SELECT
    'lead' || g || '@example' || (g %% 997) || '.com', NULL,
    (ARRAY['Ada','Grace','Alan','Edsger','Barbara','Donald','Frances','Ken'])[1 + g %% 8],
    'Person' || g,
    'Company ' || (g %% 50000),
    (ARRAY['Head of Marketing','CTO','Sales Manager','Engineer','CFO','Marketing Ops'])[1 + g %% 6],
    '',
    (ARRAY['Germany','Austria','Switzerland','France','United Kingdom','Spain','Italy',
           'Netherlands','United States','Canada','Poland','Sweden'])[1 + (g * 7) %% 12],
    '',
    (ARRAY['Software','Retail','Manufacturing','Software services','Finance','Health'])
        [1 + (g * 13) %% 6],
    CASE WHEN g %% 10 = 0 THEN NULL ELSE (g * 31) %% 5000 END,
    '', 'bench', NULL, g %% 50 = 0,
    jsonb_build_object(
        'plan', (ARRAY['free','pro','enterprise'])[1 + g %% 3],
        'seats', CASE WHEN g %% 17 = 0 THEN 'n/a' ELSE ((g * 11) %% 200)::text END
    ),
    (ARRAY['suspect','suspect','suspect','mql','sal','sql','opportunity','customer',
           'nurture','junk'])[1 + (g * 3) %% 10],
    now(), 0, now() - ((g %% 700) || ' days')::interval, now()
FROM generate_series(1, %s) AS g
"""


def _median_ms(run) -> float:
    run()  # warm the cache and the plan
    times = []
    for _ in range(REPEAT):
        with Timer() as timer:
            run()
        times.append(timer.seconds * 1000)
    return round(statistics.median(times), 1)


def run() -> dict:
    leads = int(os.environ.get("HANDOFF_BENCH_LEADS", "1000000"))
    context = bench_database()
    context.__enter__()  # raises Skip without PostgreSQL
    try:
        from django.db import connection

        from campaigns.selectors import segment_leads

        with Timer() as load, connection.cursor() as cursor:
            cursor.execute(LOAD_SQL, [leads])
            cursor.execute("VACUUM ANALYZE leads_lead")

        def baseline():
            with connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM leads_lead")
                return cursor.fetchone()[0]

        def full_scan():
            with connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM leads_lead WHERE length(first_name) >= 0")
                return cursor.fetchone()[0]

        assert baseline() == leads == full_scan()
        baseline_ms = _median_ms(baseline)
        full_scan_ms = _median_ms(full_scan)
        figures = {}
        for name, (match, conditions) in SEGMENTS.items():
            count = segment_leads(conditions=conditions, match=match).count()
            ms = _median_ms(
                lambda m=match, c=conditions: segment_leads(conditions=c, match=m).count()
            )
            figures[name] = {
                "matching": count,
                "ms": ms,
                "ratio_to_count_all": round(ms / baseline_ms, 2) if baseline_ms else None,
                "ratio_to_full_scan": round(ms / full_scan_ms, 2) if full_scan_ms else None,
            }
        slowest = max(figure["ms"] for figure in figures.values())
        return {
            "leads": leads,
            "load_seconds": round(load.seconds, 1),
            "baseline_count_all_ms": baseline_ms,
            "baseline_full_scan_ms": full_scan_ms,
            "segments": figures,
            "slowest_segment_ms": slowest,
            "target_ms": TARGET_MS,
            "meets_target": slowest < TARGET_MS,
        }
    finally:
        context.__exit__(None, None, None)
