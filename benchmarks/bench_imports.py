"""CSV lead import: Handoff against the physical limit and against django-import-export.

In one run on PostgreSQL, on a deterministic leads CSV of 1,048,576 rows (about 3% of
them repeat an earlier e-mail in other case and with spaces around it):
- physical limit: COPY of the file into an unlogged table with no index;
- raw COPY into a copy of the leads table with its indexes (a file without duplicates;
  on the realistic file it stops at the first bad row and keeps nothing);
- the SQL floor: COPY into staging plus the bare statements writing the distinct leads, a
  log row and a membership each into copies of the three tables (`sql_floor`): what
  PostgreSQL alone spends on the rows the issue asks for, the ceiling of any import here;
- django-import-export on the first 20,000 rows, pre-cleaned, in its fastest documented
  mode (bulk, no diff, no per-row result);
- Handoff's import from the file on disk to committed leads, log rows and memberships,
  counted in the dashboards' rollups (a job is done when its leads are counted), in its own
  process (`manage.py import_leads`, the worker's code path) for its peak memory; then a
  second import of the same file; then the first again into empty tables with the counting
  switched off (`benchmarks/import_uncounted.py`): the import alone, which is what the SQL
  floor compares with (`ratio_to_sql_floor`; counted: `upload_to_counted_ratio_to_sql_floor`).

HANDOFF_BENCH_ROWS shrinks the file for a quick run.
"""

import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.harness import ROOT, Skip, Timer, bench_database

ROWS = int(os.environ.get("HANDOFF_BENCH_ROWS", "1048576"))
DIE_ROWS = min(20_000, ROWS)
DUPLICATE_SHARE = 0.03
HEADER = [
    "Email",
    "First Name",
    "Last Name",
    "Company",
    "Job Title",
    "Phone",
    "Country",
    "City",
    "Lead Source",
]
FIRST = ["Ann", "Bob", "Cid", "Dee", "Eve", "Fay", "Gus", "Hal", "Ivy", "Jon", "Kim", "Lea"]
LAST = ["Smith", "Jones", "Brown", "Garcia", "Miller", "Davis", "Lopez", "Clark", "Young"]
COUNTRIES = ["Germany", "France", "Spain", "Italy", "Poland", "India", "Brazil", "Canada"]
CITIES = ["Berlin", "Paris", "Madrid", "Rome", "Warsaw", "Pune", "Recife", "Toronto"]
SOURCES = ["google", "linkedin", "event", "webinar", "referral", "purchased list"]
TITLES = ["CTO", "Head of Sales", "Marketing Manager", "Developer", "CFO", "Buyer"]


def generate(path: Path, rows: int, *, duplicates: bool = True, clean: bool = False) -> int:
    """A deterministic file; answers how many distinct leads it holds."""
    import csv

    rng = random.Random(20261129)
    distinct = 0
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for index in range(rows):
            if duplicates and index > 100 and rng.random() < DUPLICATE_SHARE:
                earlier = rng.randrange(0, distinct)
                email = f"lead{earlier:07d}@company{earlier % 5000}.example"
                email = f"  {email.upper()} " if not clean else email
            else:
                email = f"lead{distinct:07d}@company{distinct % 5000}.example"
                distinct += 1
            writer.writerow(
                [
                    email,
                    rng.choice(FIRST),
                    rng.choice(LAST),
                    f"Company {rng.randrange(5000)} GmbH",
                    rng.choice(TITLES),
                    f"+49 30 {rng.randrange(10**7):07d}",
                    rng.choice(COUNTRIES),
                    rng.choice(CITIES),
                    rng.choice(SOURCES),
                ]
            )
    return distinct


def _copy_rate(cursor, table: str, path: Path, columns: str) -> float:
    statement = f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv, HEADER)"
    with Timer() as timer, open(path, "rb") as handle, cursor.copy(statement) as cp:
        while chunk := handle.read(1 << 20):
            cp.write(chunk)
    return timer.seconds


def physical_limit(path: Path, rows: int) -> float:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE UNLOGGED TABLE bench_limit (email text, first_name text, last_name text,"
            " company text, title text, phone text, country text, city text, source text)"
        )
        seconds = _copy_rate(
            cursor,
            "bench_limit",
            path,
            "email, first_name, last_name, company, title, phone, country, city, source",
        )
        cursor.execute("DROP TABLE bench_limit")
    return rows / seconds


def raw_copy_with_indexes(clean_path: Path, raw_path: Path, rows: int) -> dict:
    from django.db import connection, transaction

    columns = "email, first_name, last_name, company, title, phone, country, city, source"
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE bench_leads (LIKE leads_lead INCLUDING ALL EXCLUDING IDENTITY)"
        )
        cursor.execute(
            "CREATE SEQUENCE bench_leads_seq; ALTER TABLE bench_leads ALTER id SET DEFAULT"
            " nextval('bench_leads_seq')"
        )
        for name, default in (
            ("external_id", None),
            ("industry", "''"),
            ("website", "''"),
            ("attributes", "'{}'"),
            ("stage", "'suspect'"),
            ("stage_changed_at", "now()"),
            ("score", "0"),
            ("created_at", "now()"),
            ("updated_at", "now()"),
            ("do_not_email", "false"),
        ):
            if default:
                cursor.execute(f"ALTER TABLE bench_leads ALTER {name} SET DEFAULT {default}")
        seconds = _copy_rate(cursor, "bench_leads", clean_path, columns)
        cursor.execute("TRUNCATE bench_leads")
        error = ""
        try:
            with transaction.atomic():
                _copy_rate(cursor, "bench_leads", raw_path, columns)
        except Exception as exc:  # the point: what raw COPY does with a real file
            error = str(exc).splitlines()[0]
        cursor.execute("SELECT count(*) FROM bench_leads")
        kept = cursor.fetchone()[0]
        cursor.execute("DROP TABLE bench_leads; DROP SEQUENCE bench_leads_seq")
    return {"rows_per_s": round(rows / seconds), "raw_file_error": error, "raw_file_kept": kept}


FLOOR_TABLES = (
    ("floor_leads", "leads_lead"),
    ("floor_log", "funnel_transition"),
    ("floor_members", "campaigns_campaignmembership"),
)


def sql_floor(path: Path, rows: int) -> dict:
    """The least any import of this file into Handoff's schema must do, as bare SQL on one
    connection: COPY the file into an unlogged staging table, then three statements that
    insert the distinct leads (e-mails trimmed and lower-cased, sorted), then a log row and
    a membership per lead, into copies of the three tables with their indexes and checks.

    No cleaning, no error rows, no lookup of existing leads, no resume point, no progress:
    what PostgreSQL itself spends writing the rows and indexes the issue asks for. Handoff's
    import cannot be faster than this on the same machine; its ratio to the physical limit
    is the ceiling for Handoff's. (Two connections do not raise it: their inserts queue on
    the one WAL.)"""
    from django.db import connection

    columns = "email, first_name, last_name, company, title, phone, country, city, source"
    with connection.cursor() as cursor:
        for copy, real in FLOOR_TABLES:
            cursor.execute(f"CREATE TABLE {copy} (LIKE {real} INCLUDING ALL)")
        texts = ", ".join(f"{column} text" for column in columns.split(", "))
        cursor.execute(f"CREATE UNLOGGED TABLE floor_staging ({texts})")
        cursor.execute("SELECT id FROM campaigns_campaign ORDER BY id LIMIT 1")
        found = cursor.fetchone()
        campaign = found[0] if found else None
        with Timer() as timer:
            cursor.execute("BEGIN")
            cursor.execute("SET LOCAL synchronous_commit TO off")  # as Handoff's batches
            _copy_rate(cursor, "floor_staging", path, columns)
            # Sorting a million rows in memory, not on disk; its own tables in the
            # statements that follow (one statement with two inserts fed by one RETURNING
            # measured slower).
            cursor.execute("SET LOCAL work_mem TO '256MB'")
            cursor.execute(
                "CREATE TEMPORARY TABLE floor_ids (id bigint, stage text, at timestamptz)"
                " ON COMMIT DROP"
            )
            cursor.execute(
                "WITH ins AS ("
                " INSERT INTO floor_leads (email, external_id, first_name, last_name, company,"
                " title, phone, country, city, source, industry, website, do_not_email,"
                " attributes, stage, stage_changed_at, score, created_at, updated_at)"
                " SELECT DISTINCT ON (e) e, NULL, first_name, last_name, company, title,"
                " phone, country, city, source, '', '', false, '{}', 'suspect', now(), 0,"
                " now(), now() FROM (SELECT lower(btrim(email)) AS e, * FROM floor_staging) s"
                " ORDER BY e RETURNING id, stage, stage_changed_at)"
                " INSERT INTO floor_ids SELECT * FROM ins"
            )
            cursor.execute(
                "INSERT INTO floor_log (lead_id, from_stage, to_stage, verb, system_actor, at,"
                " note, campaign_id, data)"
                " SELECT id, '', stage, 'import', 'floor', at, '', %s, '{}' FROM floor_ids",
                [campaign],
            )
            cursor.execute(
                "INSERT INTO floor_members (lead_id, campaign_id, joined_at, how, touched_at,"
                " touches) SELECT id, %s, now(), 'import', now(), 1 FROM floor_ids",
                [campaign],
            )
            cursor.execute("COMMIT")
        cursor.execute("SELECT count(*) FROM floor_leads")
        leads = cursor.fetchone()[0]
        cursor.execute("DROP TABLE floor_staging, " + ", ".join(copy for copy, _ in FLOOR_TABLES))
    return {
        "rows_per_s": round(rows / timer.seconds),
        "seconds": round(timer.seconds, 2),
        "leads": leads,
    }


def django_import_export(path: Path) -> dict:
    try:
        import tablib
        from import_export import resources
    except ImportError:
        return {"skipped": "django-import-export is not installed (pip install -e '.[dev]')"}
    from leads.models import Lead

    class LeadResource(resources.ModelResource):
        class Meta:
            model = Lead
            fields = (
                "email",
                "first_name",
                "last_name",
                "company",
                "title",
                "phone",
                "country",
                "city",
                "source",
            )
            import_id_fields = ("email",)
            use_bulk = True
            batch_size = 1000
            skip_diff = True
            skip_unchanged = False
            use_transactions = True
            force_init_instance = True  # new rows: no lookup per row (its fastest mode)

    with open(path, encoding="utf-8") as handle:
        dataset = tablib.Dataset().load(handle.read(), format="csv")
    dataset.headers = list(LeadResource.Meta.fields)
    with Timer() as timer:
        result = LeadResource().import_data(dataset, dry_run=False, collect_failed_rows=True)
    return {
        "rows": len(dataset),
        "rows_per_s": round(len(dataset) / timer.seconds),
        "errors": bool(result.has_errors() or result.has_validation_errors()),
    }


def handoff_import(path: Path, env: dict, *, counted: bool = True) -> dict:
    command = [
        sys.executable,
        *(["manage.py", "import_leads"] if counted else ["-m", "benchmarks.import_uncounted"]),
        str(path),
        "--campaign",
        "bench",
        "--verbosity",
        "2",
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    with Timer() as timer:
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(done.stderr[-2000:])
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    lines = done.stdout.strip().splitlines()
    # Where the time went: the file stored and inspected, read into staging, indexed,
    # merged; what the phases leave of the total is the process starting and ending.
    phases = next(
        (line.removeprefix("phases: ") for line in lines if line.startswith("phases:")), ""
    )
    return {
        "seconds": round(timer.seconds, 2),
        "output": lines[0],
        "phases": phases,
        "peak_mb": round(max(peak_kb, before) / 1024),
    }


def counted_after(import_seconds: float, timeout: float = 900) -> dict:
    """From the file to dashboards that are exact: the import's own time, plus any wait
    until `GET /api/funnel/`'s counts have nothing pending and count every lead."""
    from leads.models import Lead
    from reporting.selectors import freshness, funnel_snapshot

    with Timer() as timer:
        deadline = time.monotonic() + timeout
        while True:
            pending = freshness()["pending"]
            snapshot = funnel_snapshot()
            in_funnel = sum(snapshot["stages"].values())
            exact = pending == 0 and in_funnel == Lead.objects.count()
            if exact or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    return {
        "seconds": round(import_seconds + timer.seconds, 2),
        "waited_after_done_s": round(timer.seconds, 2),
        "pending_at_done": pending if timer.seconds < 0.5 else None,
        "exact": exact,
    }


def checkpoint() -> None:
    """Each measurement starts from the same state: the WAL of the one before written out,
    so that a checkpoint it set off (and the full-page images after it) is not billed to
    the next one. Needs a superuser or pg_checkpoint; without, the runs go on as they are."""
    from django.db import DatabaseError, connection

    try:
        with connection.cursor() as cursor:
            cursor.execute("CHECKPOINT")
    except DatabaseError:
        pass


def table_bytes(*tables: str) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT sum(pg_total_relation_size(t::regclass)) FROM unnest(%s::text[]) t",
            [list(tables)],
        )
        return int(cursor.fetchone()[0])


def run() -> dict:
    from django.db import connection

    if connection.vendor != "postgresql":
        raise Skip("needs PostgreSQL: set DATABASE_URL=postgres://...")
    workdir = Path(tempfile.mkdtemp(prefix="handoff-bench-"))
    raw = workdir / "leads.csv"
    clean = workdir / "leads-clean.csv"
    die = workdir / "leads-20k.csv"
    distinct = generate(raw, ROWS)
    generate(clean, ROWS, duplicates=False)
    generate(die, DIE_ROWS, duplicates=False, clean=True)
    with bench_database():
        from django.contrib.auth import get_user_model

        from campaigns.models import Campaign
        from leads.models import Lead
        from tests.services import database_url

        checkpoint()
        limit = physical_limit(raw, ROWS)
        checkpoint()
        raw_copy = raw_copy_with_indexes(clean, raw, ROWS)
        checkpoint()
        die_figures = django_import_export(die)
        Lead.objects.all().delete()
        Campaign.objects.create(name="Bench", slug="bench")
        get_user_model().objects.create(username="bench")
        checkpoint()
        floor = sql_floor(raw, ROWS)
        checkpoint()
        env = {
            **os.environ,
            "DATABASE_URL": database_url(connection.settings_dict),
            "DEBUG": "1",
            "HANDOFF_IMPORT_DIR": str(workdir / "uploads"),
        }
        connection.close()
        first = handoff_import(raw, env)
        counted = counted_after(first["seconds"])
        leads_after_first = Lead.objects.count()
        tables = ("leads_lead", "funnel_transition", "campaigns_campaignmembership")
        size_first = table_bytes(*tables)
        lead_size_first = table_bytes("leads_lead")
        checkpoint()
        second = handoff_import(raw, env)
        size_second = table_bytes(*tables)
        lead_size_second = table_bytes("leads_lead")
        leads_after_second = Lead.objects.count()
        # The import alone: the first import again, into empty tables, with the counting
        # switched off (benchmarks/import_uncounted.py; a real import always counts).
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE leads_lead CASCADE")
        connection.close()
        checkpoint()
        alone = handoff_import(raw, env, counted=False)
        leads_after_alone = Lead.objects.count()
    for path in (raw, clean, die):
        path.unlink(missing_ok=True)
    rate = ROWS / first["seconds"]
    second_rate = ROWS / second["seconds"]
    die_rate = die_figures.get("rows_per_s")
    growth = (size_second - size_first) / size_first
    figures = {
        "rows": ROWS,
        "distinct_leads": distinct,
        "physical_limit_rows_per_s": round(limit),
        "raw_copy_with_indexes": raw_copy,
        "sql_floor": {
            **floor,
            "ratio_to_physical_limit": round(floor["rows_per_s"] / limit, 3),
            "ratio_to_django_import_export": (
                round(floor["rows_per_s"] / die_figures["rows_per_s"], 1)
                if die_figures.get("rows_per_s")
                else None
            ),
        },
        "django_import_export": die_figures,
        "handoff_first": {**first, "rows_per_s": round(rate)},
        "handoff_second": {**second, "rows_per_s": round(second_rate)},
        "leads_after_first": leads_after_first,
        "leads_after_second": leads_after_second,
        "leads_after_import_alone": leads_after_alone,
        "ratio_to_physical_limit": round(rate / limit, 3),
        "ratio_to_django_import_export": round(rate / die_rate, 1) if die_rate else None,
        # The "import alone": the import without its counting, against the floor
        # (which counts nothing either).
        "import_alone": {**alone, "rows_per_s": round(ROWS / alone["seconds"])},
        "ratio_to_sql_floor": round(ROWS / alone["seconds"] / floor["rows_per_s"], 3),
        "counted_import_ratio_to_sql_floor": round(rate / floor["rows_per_s"], 3),
        "upload_to_counted": {**counted, "rows_per_s": round(ROWS / counted["seconds"])},
        "upload_to_counted_ratio_to_sql_floor": round(
            ROWS / counted["seconds"] / floor["rows_per_s"], 3
        ),
        "second_over_first_speed": round(second_rate / rate, 2),
        "table_growth_on_second_import": round(growth, 4),
        "leads_table_growth_on_second_import": round(
            (lead_size_second - lead_size_first) / lead_size_first, 4
        ),
        "peak_worker_mb": max(first["peak_mb"], second["peak_mb"]),
    }
    # The targets of issue 14, as ratios to the SQL floor measured in the same run: the
    # import alone >= 0.85 of it; from the file to exact dashboards >= 0.5 of it.
    figures["targets"] = {
        "ratio_to_sql_floor": ">= 0.85",
        "upload_to_counted_ratio_to_sql_floor": ">= 0.5",
        "second_over_first_speed": ">= 0.95",
        "table_growth_on_second_import": "< 0.05",
        "peak_worker_mb": "<= 300",
    }
    figures["meets_target"] = bool(
        figures["ratio_to_sql_floor"] >= 0.85
        and figures["upload_to_counted_ratio_to_sql_floor"] >= 0.5
        and counted["exact"]
        and second_rate >= rate * 0.95
        and growth < 0.05
        and leads_after_first == distinct == leads_after_second == leads_after_alone
        and figures["peak_worker_mb"] <= 300
    )
    return figures
