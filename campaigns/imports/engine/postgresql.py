"""The PostgreSQL path: COPY into an unlogged staging table, then set-wise merges."""

import json
import threading
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import F
from psycopg import sql

from campaigns.models import Campaign, CampaignMembership
from campaigns.signals import import_batch_done, memberships_changed
from funnel.imports import (
    BATCH_COLUMNS,
    IMPORT_RANK,
    leads_import_merge,
    new_leads_table,
)
from leads.fields import FIELD, IMPORT_FIELDS, TOUCH_IMPORT_FIELDS
from leads.models import Lead

from .. import csvfile
from ..models import ImportJob, ImportRowError
from ..rows import CleanRow, staging_writer
from .jobs import (
    batch_rows,
    cleaner_for,
    deal_owners,
    limits_existing,
    mapped_fields,
    progress,
    row_error,
    timed,
)

# The lead's importable fields; a job that maps touch columns (utm_*, gclid: the
# membership's, not the lead's) stages those after them (see staging_fields).
STAGING_FIELDS = IMPORT_FIELDS


def staging_fields(job: ImportJob) -> tuple[str, ...]:
    """The staged value columns of this job: only the touch columns it maps, so a file
    without any copies no empty columns."""
    return (*STAGING_FIELDS, *touch_columns(job))


# A lead field's column type in the staging table, by its kind (leads.fields).
STAGING_TYPES = {
    "email": "text",
    "identifier": "text",
    "text": "text",
    "integer": "integer",
    "boolean": "boolean",
}

NESTED_LOOPS_ONLY = "SET LOCAL enable_hashjoin TO off; SET LOCAL enable_mergejoin TO off"
ANY_JOIN = "SET LOCAL enable_hashjoin TO on; SET LOCAL enable_mergejoin TO on"


def _staging(job: ImportJob) -> sql.Identifier:
    return sql.Identifier(f"imports_staging_{job.pk}")


def drop_staging(job: ImportJob) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                sql.SQL("DROP TABLE IF EXISTS {}, {}").format(_staging(job), _ranges(job))
            )


def _staging_holds_rows(job: ImportJob) -> bool:
    """Unlogged tables do not survive a database crash: recovery leaves them empty (it
    does not drop them), so an empty staging table is as good as a missing one."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [f"imports_staging_{job.pk}"])
        if not cursor.fetchone()[0]:
            return False
        cursor.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(_staging(job)))
        return cursor.fetchone()[0]


def run_postgresql(job: ImportJob, token: str) -> None:
    if job.phase == ImportJob.Phase.MERGE and not _staging_holds_rows(job):
        # Read the file again (the merge is idempotent: ranges already merged change
        # nothing); merging from the emptied table would end "done" with rows missing.
        job.phase = ImportJob.Phase.READ
    if job.phase == ImportJob.Phase.READ:
        with timed(job, "read"):
            _read_into_staging(job, token)
    with timed(job, "merge"):
        _merge_from_staging(job, token)
    drop_staging(job)


def staging_row(row: CleanRow, fields: tuple[str, ...] = STAGING_FIELDS) -> tuple:
    """A clean row as the staging table's COPY takes it (the fast path builds the same)."""
    attributes = row.values.get("attributes")
    return (
        row.line,
        row.ident,
        *map(row.values.get, fields),
        json.dumps(attributes) if attributes else None,
        row.stage,
        IMPORT_RANK[row.stage],
        row.stage_at,
        json.dumps(row.story) if row.story is not None else None,
    )


def _read_into_staging(job: ImportJob, token: str) -> None:
    staging = _staging(job)
    columns = [
        ("line", "integer"),
        ("ident", 'text COLLATE "C"'),
        *((name, STAGING_TYPES[FIELD[name].kind]) for name in IMPORT_FIELDS),
        *((name, "text") for name in touch_columns(job)),
        ("attributes", "jsonb"),
        ("stage", "text"),
        ("rank", "smallint"),
        ("stage_at", "timestamptz"),
        ("story", "jsonb"),
    ]
    names = [name for name, _ in columns]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql.SQL("DROP TABLE IF EXISTS {}, {}").format(staging, _ranges(job)))
        cursor.execute(
            sql.SQL("CREATE UNLOGGED TABLE {} ({})").format(
                staging,
                sql.SQL(", ").join(
                    sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(t)) for n, t in columns
                ),
            )
        )
        ImportRowError.objects.filter(job=job).delete()
        progress(
            job,
            token,
            read=0,
            processed=0,
            created=0,
            updated=0,
            skipped=0,
            merged=0,
            failed=0,
            resume_after="",
        )
    cleaner = cleaner_for(job)
    fields = staging_fields(job)
    fast = staging_writer(cleaner, fields=fields, rank=IMPORT_RANK)
    copy_sql = sql.SQL("COPY {} ({}) FROM STDIN").format(
        staging, sql.SQL(", ").join(map(sql.Identifier, names))
    )
    records = csvfile.data_records(Path(job.file_path), job.encoding, job.delimiter)
    size = batch_rows()
    while True:
        count = 0
        errors: list[ImportRowError] = []
        with transaction.atomic(), connection.cursor() as cursor:
            # A batch is atomic with its progress; a crash loses at most the last moments
            # of batches, which the resume then writes again.
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
            with cursor.copy(copy_sql) as copy:
                write_row = copy.write_row
                for line, cells in records:
                    count += 1
                    staged = fast(line, cells)
                    if staged is None:
                        row = cleaner.clean(line, cells)
                        if row.errors:
                            errors.append(row_error(job, row, cells))
                        else:
                            staged = staging_row(row, fields)
                    if staged is not None:
                        write_row(staged)
                    if count >= size:
                        break
            ImportRowError.objects.bulk_create(errors, batch_size=1000)
            progress(
                job,
                token,
                read=F("read") + count,
                processed=F("processed") + len(errors),
                failed=F("failed") + len(errors),
            )
        if count < size:
            break
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            sql.SQL("CREATE INDEX ON {} (ident, line)").format(staging),
        )
        cursor.execute(sql.SQL("ANALYZE {}").format(staging))
        progress(job, token, phase=ImportJob.Phase.MERGE, resume_after="")
    job.phase = ImportJob.Phase.MERGE
    job.resume_after = ""


def _ranges(job: ImportJob) -> sql.Identifier:
    return sql.Identifier(f"imports_ranges_{job.pk}")


def _plan_ranges(job: ImportJob, cursor) -> None:
    """Cut the sorted identities into ranges of about a batch each (an identity is never
    cut), kept with the staging table; a range is marked done in the transaction that
    merges it, so a resumed run merges only what is left, in any order."""
    cursor.execute(
        sql.SQL(
            'CREATE UNLOGGED TABLE IF NOT EXISTS {} (after text COLLATE "C" PRIMARY KEY,'
            ' upper text COLLATE "C", done boolean NOT NULL DEFAULT false)'
        ).format(_ranges(job))
    )
    cursor.execute(
        sql.SQL(
            "INSERT INTO {r} (after, upper)"
            " SELECT coalesce(lag(upper) OVER (ORDER BY upper NULLS LAST), ''), upper FROM ("
            " SELECT DISTINCT ident AS upper FROM ("
            " SELECT ident, row_number() OVER (ORDER BY ident) AS n FROM {s}) numbered"
            " WHERE n %% %(size)s = 0 UNION ALL SELECT NULL) bounds"
            " ON CONFLICT DO NOTHING"
        ).format(r=_ranges(job), s=_staging(job)),
        {"size": batch_rows()},
    )
    if job.resume_after:  # a merge a run before ranges was half way through
        cursor.execute(
            sql.SQL("UPDATE {} SET done = true WHERE upper <= %s").format(_ranges(job)),
            [job.resume_after],
        )


def merge_workers() -> int:
    """Merges of disjoint identity ranges run side by side, each on its own connection:
    PostgreSQL spends most of an import writing rows and indexes, on one core per
    connection. Within the caller's transaction (tests) there is one connection only."""
    if connection.in_atomic_block:
        return 1
    return settings.HANDOFF_IMPORT_MERGE_WORKERS


def _merge_from_staging(job: ImportJob, token: str) -> None:
    job.refresh_from_db()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit TO off")
        cursor.execute("SELECT to_regclass(%s) IS NULL", [f"imports_ranges_{job.pk}"])
        if cursor.fetchone()[0]:
            _plan_ranges(job, cursor)
        cursor.execute(
            sql.SQL("SELECT after, upper FROM {} WHERE NOT done ORDER BY after").format(
                _ranges(job)
            )
        )
        pending = cursor.fetchall()
    workers = min(merge_workers(), len(pending))
    if workers <= 1:
        _roomy_temp_buffers()
        for after, upper in pending:
            _merge_range(job, token, after, upper)
        return
    queue = iter(pending)
    lock = threading.Lock()
    failures: list[BaseException] = []

    def work() -> None:
        try:
            _roomy_temp_buffers()
            while not failures:
                with lock:
                    taken = next(queue, None)
                if taken is None:
                    return
                _merge_range(job, token, *taken)
        except BaseException as exc:  # handed to the calling thread below
            failures.append(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=work, name=f"import-{job.pk}-merge-{n}") for n in range(workers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]


def _roomy_temp_buffers() -> None:
    """A batch's temporary tables (tens of MB for 50,000 rows) held in memory: with the
    default 8 MB, PostgreSQL writes them out and reads them back for every statement that
    scans the batch, seconds per batch on a busy disk. Only possible before the session's
    first temporary table (a fresh merge connection); otherwise the default stays."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET temp_buffers = '128MB'")
    except DatabaseError:
        pass


def _merge_range(job: ImportJob, token: str, after: str, upper: str | None) -> None:
    staging = _staging(job)
    fields = mapped_fields(job)
    batch_table = f"imports_batch_{job.pk}"
    batch = sql.Identifier(batch_table)

    def last(column: str, order: str = "line DESC") -> sql.Composable:
        return sql.SQL("(array_agg({c} ORDER BY {o}) FILTER (WHERE {c} IS NOT NULL))[1]").format(
            c=sql.Identifier(column), o=sql.SQL(order)
        )

    merged_columns = list(staging_fields(job))
    value_columns = [*merged_columns, "attributes"]
    insert_names = sql.SQL(", ").join(
        map(
            sql.Identifier,
            ["ident", "line", "rows", *value_columns, "stage", "stage_at", "story"],
        )
    )
    first_select = sql.SQL(", ").join(
        [
            sql.SQL("ident, line, 1"),
            *map(sql.Identifier, value_columns),
            sql.SQL("stage, stage_at, story"),
        ]
    )
    # Lead fields: each one the last non-blank value. Attributes: merged key by key, later
    # rows winning per key, as the ORM engine merges them and as a later file or batch
    # merges into a lead's attributes (a second row that only adds "Region" keeps the
    # first row's "Industry").
    merged_attributes = sql.SQL(
        "(SELECT jsonb_object_agg(e.key, e.value ORDER BY r.line, e.key)"
        " FROM {s} r CROSS JOIN LATERAL jsonb_each(r.attributes) e"
        " WHERE r.ident = {s}.ident AND r.attributes IS NOT NULL)"
    ).format(s=staging)
    group_select = sql.SQL(", ").join(
        [
            sql.SQL("ident, min(line) AS line, count(*) AS rows"),
            *(sql.SQL("{} AS {}").format(last(c), sql.Identifier(c)) for c in merged_columns),
            sql.SQL("{} AS attributes").format(merged_attributes),
        ]
    )
    group_set = sql.SQL(", ").join(
        sql.SQL("{c} = g.{c}").format(c=sql.Identifier(c)) for c in ["line", "rows", *value_columns]
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(batch))
        cursor.execute(
            sql.SQL("CREATE TEMPORARY TABLE {} ({}) ON COMMIT DROP").format(
                batch,
                sql.SQL(", ").join(
                    sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(t)) for n, t in BATCH_COLUMNS
                ),
            )
        )
        # Most identities appear once: take each one's furthest-stage, latest row as it
        # is (one sorted pass), then merge only the identities that repeat.
        cursor.execute("SET LOCAL synchronous_commit TO OFF")
        # The merge statements cost enough for PostgreSQL to JIT-compile them, anew in every
        # range: about a second each, far more than compiling saves on 50,000 rows.
        cursor.execute("SET LOCAL jit TO off")
        setwise = keys_checked_setwise(cursor, job.campaign_id)
        # Look leads up by index, in identity order: the planner would otherwise hash
        # the whole (growing) leads table for every batch.
        cursor.execute(NESTED_LOOPS_ONLY)
        bound = sql.SQL(" AND ident <= %(upper)s") if upper is not None else sql.SQL("")
        where = sql.SQL("ident > %(after)s{bound}").format(bound=bound)
        cursor.execute(
            sql.SQL(
                "INSERT INTO {b} ({names}, lead_id, old_stage)"
                " SELECT f.*, coalesce(le.id, lx.id),"
                " CASE WHEN le.id IS NOT NULL THEN le.stage ELSE lx.stage END"
                " FROM (SELECT DISTINCT ON (ident) {select} FROM {s}"
                " WHERE {where} ORDER BY ident, rank DESC, line DESC) f"
                " LEFT JOIN {lead} le ON le.email = f.email"
                " LEFT JOIN {lead} lx ON le.id IS NULL AND lx.external_id = f.external_id"
            ).format(
                b=batch,
                names=insert_names,
                select=first_select,
                s=staging,
                where=where,
                lead=sql.Identifier(Lead._meta.db_table),
            ),
            {"after": after, "upper": upper},
        )
        cursor.execute(ANY_JOIN)
        cursor.execute(
            sql.SQL(
                "WITH g AS (SELECT {select} FROM {s} WHERE {where} AND ident IN ("
                " SELECT ident FROM {s} WHERE {where} GROUP BY ident HAVING count(*) > 1)"
                " GROUP BY ident)"
                " UPDATE {b} SET {set} FROM g WHERE {b}.ident = g.ident"
            ).format(b=batch, select=group_select, s=staging, where=where, set=group_set),
            {"after": after, "upper": upper},
        )
        cursor.execute(sql.SQL("SELECT coalesce(sum(rows), 0), count(*) FROM {}").format(batch))
        rows, identities = cursor.fetchone()
        counts = leads_import_merge(
            table=batch_table,
            fields=fields,
            on_duplicate=job.on_duplicate,
            system_actor=job.system_actor,
            campaign_id=job.campaign_id,
            now=job.started_at,
            resolved=True,
            limit_existing=limits_existing(job),
            owners=deal_owners(job),
        )
        if job.campaign_id:
            _memberships_postgresql(cursor, batch_table, job, touch=counts.updated > 0)
        with timed(job, "count"):  # reporting counts the batch
            import_batch_done()
        cursor.execute(
            sql.SQL("SELECT line, refusal FROM {} WHERE lost ORDER BY line").format(batch)
        )
        lost = [
            ImportRowError(
                job=job,
                line=line,
                column="",
                message=refusal
                or "Its e-mail or external id belongs to another lead of this file.",
            )
            for line, refusal in cursor.fetchall()
        ]
        ImportRowError.objects.bulk_create(lost)
        merged = rows - identities
        cursor.execute(
            sql.SQL("UPDATE {} SET done = true WHERE after = %s").format(_ranges(job)), [after]
        )
        # Last: the job's row stays locked until the commit, and other ranges wait for it.
        progress(
            job,
            token,
            processed=F("processed") + rows,
            created=F("created") + counts.created,
            updated=F("updated") + counts.updated,
            skipped=F("skipped") + counts.unchanged + merged,
            merged=F("merged") + merged,
            failed=F("failed") + len(lost),
        )
        if setwise:
            # Within a caller's transaction (tests), what follows is checked row by row again.
            cursor.execute("SET LOCAL session_replication_role = origin")


def keys_checked_setwise(cursor, campaign_id: int | None) -> bool:
    """Check the batch's foreign keys set-wise instead of row by row, when the database
    role may (a superuser, or PostgreSQL 15's GRANT SET ON PARAMETER).

    PostgreSQL checks each inserted log row and membership against its lead and campaign
    with one query and one row lock per row: for an import that is four checks per lead,
    half of the time of a merge. Within this transaction the keys hold by construction:
    the new leads are this transaction's own, existing leads get a log row only through
    the UPDATE that locks them, and a membership only after `FOR KEY SHARE` (the lock the
    check itself takes, so a concurrent delete waits for the commit and then fails its own
    check). The campaign is locked here the same way. `session_replication_role = replica`
    turns the per-row triggers off for this transaction only (SET LOCAL); Handoff has no
    other triggers on these tables. Without the privilege the checks run as usual."""
    try:
        with transaction.atomic():
            cursor.execute("SET LOCAL session_replication_role = replica")
    except DatabaseError:
        return False
    if campaign_id is not None:
        cursor.execute(
            sql.SQL("SELECT 1 FROM {} WHERE id = %s FOR KEY SHARE").format(
                sql.Identifier(Campaign._meta.db_table)
            ),
            [campaign_id],
        )
        if cursor.fetchone() is None:
            raise IntegrityError(f"The campaign {campaign_id} was deleted during the import.")
    return True


def touch_columns(job: ImportJob) -> list[str]:
    """The touch fields (utm_*, gclid) the import's mapping fills."""
    return [name for name in TOUCH_IMPORT_FIELDS if name in job.mapping.values()]


def _touch_sql(job: ImportJob, alias: str) -> sql.Composable:
    """The row's touch as jsonb (the mapped touch columns with a value), or NULL when it has
    none; plain NULL when the file maps no touch column."""
    names = touch_columns(job)
    if not names:
        return sql.SQL("NULL::jsonb")
    pairs = sql.SQL(", ").join(
        sql.SQL("{k}, {a}.{c}").format(
            k=sql.Literal(n), a=sql.Identifier(alias), c=sql.Identifier(n)
        )
        for n in names
    )
    return sql.SQL("nullif(jsonb_strip_nulls(jsonb_build_object({})), '{{}}'::jsonb)").format(pairs)


def _memberships_postgresql(cursor, batch_table: str, job: ImportJob, *, touch: bool) -> None:
    """Each imported lead joins the campaign; a member already is touched again only when
    the import changed something about it (an unchanged re-import rewrites nothing) or the
    row brings a touch (utm_*, gclid) other than its last. A new member's touch is its first
    and last attribution; a later touch's replaces the last."""
    table = sql.Identifier(CampaignMembership._meta.db_table)
    params = {
        "campaign": job.campaign_id,
        "now": job.started_at,
        "how": CampaignMembership.How.IMPORT,
    }
    batch = sql.Identifier(batch_table)
    row_touch = _touch_sql(job, "b")
    has_touch = bool(touch_columns(job))
    # Leads created by this batch cannot be members yet: a plain insert.
    if has_touch:
        new_rows = sql.SQL(
            "SELECT n.id, t.touch FROM {new} n JOIN {b} b ON b.ident = n.ident,"
            " LATERAL (SELECT {touch} AS touch) t ORDER BY n.id"
        ).format(new=sql.Identifier(new_leads_table(batch_table)), b=batch, touch=row_touch)
    else:
        new_rows = sql.SQL("SELECT id, NULL::jsonb FROM {new} ORDER BY id").format(
            new=sql.Identifier(new_leads_table(batch_table))
        )
    cursor.execute(
        sql.SQL(
            "INSERT INTO {m} (lead_id, campaign_id, joined_at, how, touched_at, touches,"
            " first_attribution, last_attribution)"
            " SELECT id, %(campaign)s, %(now)s, %(how)s, %(now)s, 1, touch, touch"
            " FROM ({rows}) r (id, touch)"
        ).format(m=table, rows=new_rows),
        params,
    )
    # Existing leads that are not members yet: locked as the foreign key check would lock
    # them (see keys_checked_setwise); one deleted meanwhile does not join.
    cursor.execute(
        sql.SQL(
            "WITH todo AS (SELECT DISTINCT ON (lead_id) lead_id, {touch} AS touch FROM {b} b"
            " WHERE lead_id IS NOT NULL"
            " AND NOT EXISTS (SELECT 1 FROM {m} m WHERE m.lead_id = b.lead_id"
            " AND m.campaign_id = %(campaign)s) ORDER BY lead_id, line DESC),"
            " locked AS (SELECT l.id FROM {lead} l WHERE l.id IN (SELECT lead_id FROM todo)"
            " FOR KEY SHARE)"
            " INSERT INTO {m} (lead_id, campaign_id, joined_at, how, touched_at, touches,"
            " first_attribution, last_attribution)"
            " SELECT id, %(campaign)s, %(now)s, %(how)s, %(now)s, 1, todo.touch, todo.touch"
            " FROM locked JOIN todo ON todo.lead_id = locked.id ORDER BY id"
            " ON CONFLICT (lead_id, campaign_id) DO NOTHING RETURNING lead_id"
        ).format(m=table, b=batch, lead=sql.Identifier(Lead._meta.db_table), touch=row_touch),
        params,
    )
    # Leads already there that joined the campaign now: the merge's own announcement (new
    # and moved leads) does not cover them, and the campaign's rollups must count them.
    memberships_changed(row[0] for row in cursor.fetchall())
    if touch or has_touch:
        # Rows inserted just above have touched_at = now: they are not touched twice.
        cursor.execute(NESTED_LOOPS_ONLY)
        cursor.execute(
            sql.SQL(
                "UPDATE {m} m SET touched_at = %(now)s, touches = m.touches + 1,"
                " last_attribution = coalesce(t.touch, m.last_attribution)"
                " FROM {b} b, LATERAL (SELECT {touch} AS touch) t"
                " WHERE (b.changed OR t.touch IS DISTINCT FROM m.last_attribution"
                " AND t.touch IS NOT NULL)"
                " AND m.lead_id = b.lead_id AND m.campaign_id = %(campaign)s"
                " AND m.touched_at < %(now)s"
            ).format(m=table, b=batch, touch=row_touch),
            params,
        )
        cursor.execute(ANY_JOIN)
