"""Running an import: the file streamed from disk, rows cleaned, leads written in batches.

PostgreSQL: the clean rows are COPYed into an unlogged staging table (one per job), indexed
by identity, then merged in sorted identity ranges, one transaction per range: duplicates
of one identity merge (GROUP BY), then `funnel.imports.leads_import_merge` inserts, fills
and moves leads forward with one log row each. Other databases: batches through the ORM.

Every batch commits with the job's progress and its resume point, under the job's lease
(`runner`): a worker killed in the middle loses at most the batch it was writing, and the
run that takes the job over goes on from the last committed batch.
"""

import json
import uuid
from itertools import islice
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from psycopg import sql

from campaigns.models import CampaignMembership
from funnel.imports import (
    BATCH_COLUMNS,
    IMPORT_RANK,
    IMPORT_VERB,
    TEXT_FIELDS,
    ImportRecord,
    leads_import_merge,
    leads_import_records,
    leads_joined_on_commit,
    new_leads_table,
)
from funnel.models import Transition
from leads.models import Lead

from . import csvfile
from .mapping import IGNORE
from .models import ImportJob, ImportRowError
from .rows import CleanRow, RowCleaner

STAGING_FIELDS = ("email", "external_id", *TEXT_FIELDS, "company_size", "do_not_email")


NESTED_LOOPS_ONLY = "SET LOCAL enable_hashjoin TO off; SET LOCAL enable_mergejoin TO off"
ANY_JOIN = "SET LOCAL enable_hashjoin TO on; SET LOCAL enable_mergejoin TO on"


class LeaseLost(Exception):
    """Another run took the job over (a resume after this worker looked dead)."""


def batch_rows() -> int:
    return settings.HANDOFF_IMPORT_BATCH_ROWS


def claim(job_id: int) -> tuple[ImportJob, str] | None:
    """Take a queued job: one conditional update, so two workers never run the same job."""
    token = uuid.uuid4().hex
    now = timezone.now()
    taken = ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.QUEUED).update(
        status=ImportJob.Status.RUNNING, runner=token, heartbeat_at=now
    )
    if not taken:
        return None
    ImportJob.objects.filter(pk=job_id, started_at__isnull=True).update(started_at=now)
    return ImportJob.objects.get(pk=job_id), token


def _progress(job: ImportJob, token: str, **changes) -> None:
    changes.setdefault("heartbeat_at", timezone.now())
    if not ImportJob.objects.filter(pk=job.pk, runner=token).update(**changes):
        raise LeaseLost


def cleaner_for(job: ImportJob) -> RowCleaner:
    return RowCleaner(
        columns=job.columns,
        mapping=job.mapping,
        stage_values=job.stage_values,
        default_stage=job.default_stage,
        dayfirst=bool(job.dayfirst),
        max_cell=settings.HANDOFF_IMPORT_MAX_CELL,
    )


def mapped_fields(job: ImportJob) -> tuple[str, ...]:
    targets = set(job.mapping.values()) - {IGNORE}
    fields = {t for t in targets if t not in ("attribute", "stage", "stage_at")}
    if "attribute" in targets:
        fields.add("attributes")
    return tuple(sorted(fields))


def _error(job: ImportJob, row: CleanRow, cells: list[str]) -> ImportRowError:
    column, _ = row.errors[0]
    return ImportRowError(
        job=job,
        line=row.line,
        column=column,
        message=" ".join(message for _, message in row.errors),
        cells=cells,
    )


def run(job: ImportJob, token: str) -> ImportJob:
    if connection.vendor == "postgresql":
        _run_postgresql(job, token)
    else:
        _run_orm(job, token)
    _progress(
        job,
        token,
        status=ImportJob.Status.DONE,
        finished_at=timezone.now(),
        runner="",
        failure="",
    )
    Path(job.file_path).unlink(missing_ok=True)
    job.refresh_from_db()
    return job


# --- PostgreSQL ---------------------------------------------------------------------------


def _staging(job: ImportJob) -> sql.Identifier:
    return sql.Identifier(f"imports_staging_{job.pk}")


def drop_staging(job: ImportJob) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(_staging(job)))


def _staging_exists(job: ImportJob) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [f"imports_staging_{job.pk}"])
        return cursor.fetchone()[0]


def _run_postgresql(job: ImportJob, token: str) -> None:
    if job.phase == ImportJob.Phase.MERGE and not _staging_exists(job):
        # Unlogged tables do not survive a database crash: read the file again (the merge
        # is idempotent, so batches already merged change nothing).
        job.phase = ImportJob.Phase.READ
    if job.phase == ImportJob.Phase.READ:
        _read_into_staging(job, token)
    _merge_from_staging(job, token)
    drop_staging(job)


def _read_into_staging(job: ImportJob, token: str) -> None:
    staging = _staging(job)
    columns = [
        ("line", "integer"),
        ("ident", 'text COLLATE "C"'),
        *((name, "text") for name in ("email", "external_id", *TEXT_FIELDS)),
        ("company_size", "integer"),
        ("do_not_email", "boolean"),
        ("attributes", "jsonb"),
        ("stage", "text"),
        ("rank", "smallint"),
        ("stage_at", "timestamptz"),
    ]
    names = [name for name, _ in columns]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(staging))
        cursor.execute(
            sql.SQL("CREATE UNLOGGED TABLE {} ({})").format(
                staging,
                sql.SQL(", ").join(
                    sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(t)) for n, t in columns
                ),
            )
        )
        ImportRowError.objects.filter(job=job).delete()
        _progress(
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
                for line, cells in records:
                    count += 1
                    row = cleaner.clean(line, cells)
                    if row.errors:
                        errors.append(_error(job, row, cells))
                    else:
                        values = row.values
                        attributes = values.get("attributes")
                        copy.write_row(
                            (
                                line,
                                row.ident,
                                *map(values.get, STAGING_FIELDS),
                                json.dumps(attributes) if attributes else None,
                                row.stage,
                                IMPORT_RANK[row.stage],
                                row.stage_at,
                            )
                        )
                    if count >= size:
                        break
            ImportRowError.objects.bulk_create(errors, batch_size=1000)
            _progress(
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
        _progress(job, token, phase=ImportJob.Phase.MERGE, resume_after="")
    job.phase = ImportJob.Phase.MERGE
    job.resume_after = ""


def _merge_from_staging(job: ImportJob, token: str) -> None:
    staging = _staging(job)
    job.refresh_from_db()
    after = job.resume_after
    fields = mapped_fields(job)
    size = batch_rows()
    batch_table = f"imports_batch_{job.pk}"
    batch = sql.Identifier(batch_table)

    def last(column: str, order: str = "line DESC") -> sql.Composable:
        return sql.SQL("(array_agg({c} ORDER BY {o}) FILTER (WHERE {c} IS NOT NULL))[1]").format(
            c=sql.Identifier(column), o=sql.SQL(order)
        )

    merged_columns = ["email", "external_id", *TEXT_FIELDS, "company_size", "do_not_email"]
    value_columns = [*merged_columns, "attributes"]
    insert_names = sql.SQL(", ").join(
        map(sql.Identifier, ["ident", "line", "rows", *value_columns, "stage", "stage_at"])
    )
    first_select = sql.SQL(", ").join(
        [
            sql.SQL("ident, line, 1"),
            *map(sql.Identifier, value_columns),
            sql.SQL("stage, stage_at"),
        ]
    )
    group_select = sql.SQL(", ").join(
        [
            sql.SQL("ident, min(line) AS line, count(*) AS rows"),
            *(sql.SQL("{} AS {}").format(last(c), sql.Identifier(c)) for c in value_columns),
        ]
    )
    group_set = sql.SQL(", ").join(
        sql.SQL("{c} = g.{c}").format(c=sql.Identifier(c)) for c in ["line", "rows", *value_columns]
    )
    while True:
        with connection.cursor() as cursor:
            cursor.execute(
                sql.SQL(
                    "SELECT ident FROM {} WHERE ident > %s ORDER BY ident OFFSET %s LIMIT 1"
                ).format(staging),
                [after, size - 1],
            )
            found = cursor.fetchone()
        upper = found[0] if found else None
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(batch))
            cursor.execute(
                sql.SQL("CREATE TEMPORARY TABLE {} ({}) ON COMMIT DROP").format(
                    batch,
                    sql.SQL(", ").join(
                        sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(t))
                        for n, t in BATCH_COLUMNS
                    ),
                )
            )
            # Most identities appear once: take each one's furthest-stage, latest row as it
            # is (one sorted pass), then merge only the identities that repeat.
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
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
            )
            if job.campaign_id:
                _memberships_postgresql(cursor, batch_table, job, touch=counts.updated > 0)
            cursor.execute(sql.SQL("SELECT line FROM {} WHERE lost ORDER BY line").format(batch))
            lost = [
                ImportRowError(
                    job=job,
                    line=line,
                    column="",
                    message="Its e-mail or external id belongs to another lead of this file.",
                )
                for (line,) in cursor.fetchall()
            ]
            ImportRowError.objects.bulk_create(lost)
            merged = rows - identities
            _progress(
                job,
                token,
                processed=F("processed") + rows,
                created=F("created") + counts.created,
                updated=F("updated") + counts.updated,
                skipped=F("skipped") + counts.unchanged + merged,
                merged=F("merged") + merged,
                failed=F("failed") + len(lost),
                resume_after=upper or "",
            )
        if upper is None:
            break
        after = upper


def _memberships_postgresql(cursor, batch_table: str, job: ImportJob, *, touch: bool) -> None:
    """Each imported lead joins the campaign; a member already is touched again only when
    the import changed something about it (an unchanged re-import rewrites nothing)."""
    table = sql.Identifier(CampaignMembership._meta.db_table)
    params = {
        "campaign": job.campaign_id,
        "now": job.started_at,
        "how": CampaignMembership.How.IMPORT,
    }
    # Leads created by this batch cannot be members yet: a plain insert.
    cursor.execute(
        sql.SQL(
            "INSERT INTO {m} (lead_id, campaign_id, joined_at, how, touched_at, touches)"
            " SELECT id, %(campaign)s, %(now)s, %(how)s, %(now)s, 1 FROM {new} ORDER BY id"
        ).format(m=table, new=sql.Identifier(new_leads_table(batch_table))),
        params,
    )
    batch = sql.Identifier(batch_table)
    cursor.execute(
        sql.SQL(
            "INSERT INTO {m} (lead_id, campaign_id, joined_at, how, touched_at, touches)"
            " SELECT DISTINCT lead_id, %(campaign)s, %(now)s, %(how)s, %(now)s, 1 FROM {b}"
            " WHERE lead_id IS NOT NULL ORDER BY lead_id"
            " ON CONFLICT (lead_id, campaign_id) DO NOTHING RETURNING lead_id"
        ).format(m=table, b=batch),
        params,
    )
    # Leads already there that joined the campaign now: the merge's own announcement (new
    # and moved leads) does not cover them, and the campaign's rollups must count them.
    leads_joined_on_commit([row[0] for row in cursor.fetchall()], job.system_actor)
    if touch:
        # Rows inserted just above have touched_at = now: they are not touched twice.
        cursor.execute(NESTED_LOOPS_ONLY)
        cursor.execute(
            sql.SQL(
                "UPDATE {m} m SET touched_at = %(now)s, touches = m.touches + 1 FROM {b} b"
                " WHERE b.changed AND m.lead_id = b.lead_id AND m.campaign_id = %(campaign)s"
                " AND m.touched_at < %(now)s"
            ).format(m=table, b=batch),
            params,
        )
        cursor.execute(ANY_JOIN)


# --- any database -------------------------------------------------------------------------


def _merge_rows(rows: list[CleanRow]) -> list[ImportRecord]:
    """One record per identity: later non-blank values win, the latest stage stays."""
    by_ident: dict[str, ImportRecord] = {}
    for row in rows:
        ident = row.ident
        record = by_ident.get(ident)
        if record is None:
            by_ident[ident] = ImportRecord(
                ident=ident,
                line=row.line,
                rows=1,
                values=dict(row.values),
                stage=row.stage,
                stage_at=row.stage_at,
            )
            continue
        record.rows += 1
        attributes = {**record.values.get("attributes", {}), **row.values.get("attributes", {})}
        record.values.update(row.values)
        if attributes:
            record.values["attributes"] = attributes
        if IMPORT_RANK[row.stage] >= IMPORT_RANK[record.stage]:
            record.stage, record.stage_at = row.stage, row.stage_at
    return sorted(by_ident.values(), key=lambda record: record.ident)


def _run_orm(job: ImportJob, token: str) -> None:
    job.refresh_from_db()
    done = int(job.resume_after or 0)
    if not done:
        with transaction.atomic():
            ImportRowError.objects.filter(job=job).delete()
            _progress(
                job, token, read=0, processed=0, created=0, updated=0, skipped=0, merged=0, failed=0
            )
    cleaner = cleaner_for(job)
    fields = mapped_fields(job)
    records = csvfile.data_records(Path(job.file_path), job.encoding, job.delimiter, skip=done)
    size = batch_rows()
    while True:
        chunk = list(islice(records, size))
        if not chunk:
            break
        with transaction.atomic():
            good: list[CleanRow] = []
            errors: list[ImportRowError] = []
            for line, cells in chunk:
                row = cleaner.clean(line, cells)
                if row.errors:
                    errors.append(_error(job, row, cells))
                else:
                    good.append(row)
            merged_records = _merge_rows(good)
            counts = leads_import_records(
                records=merged_records,
                fields=fields,
                on_duplicate=job.on_duplicate,
                system_actor=job.system_actor,
                campaign_id=job.campaign_id,
                now=job.started_at,
            )
            # A lead this file created in an earlier batch: its rows here merge into it.
            earlier = set(
                Transition.objects.filter(
                    lead_id__in=[r.lead_id for r in merged_records if not r.created],
                    from_stage="",
                    verb=IMPORT_VERB,
                    system_actor=job.system_actor,
                ).values_list("lead_id", flat=True)
            )
            again = [r for r in merged_records if r.lead_id in earlier and not r.created]
            updated = counts.updated - sum(1 for r in again if r.changed)
            unchanged = counts.unchanged - sum(1 for r in again if not r.changed)
            merged = len(good) - len(merged_records) + len(again)
            if job.campaign_id:
                _memberships_orm(job, merged_records)
            ImportRowError.objects.bulk_create(errors, batch_size=1000)
            done += len(chunk)
            _progress(
                job,
                token,
                read=F("read") + len(chunk),
                processed=F("processed") + len(chunk),
                created=F("created") + counts.created,
                updated=F("updated") + updated,
                skipped=F("skipped") + unchanged + merged,
                merged=F("merged") + merged,
                failed=F("failed") + len(errors),
                resume_after=str(done),
            )


def _memberships_orm(job: ImportJob, records: list[ImportRecord]) -> None:
    ids = {r.lead_id for r in records if r.lead_id}
    members = set(
        CampaignMembership.objects.filter(campaign_id=job.campaign_id, lead_id__in=ids).values_list(
            "lead_id", flat=True
        )
    )
    at = job.started_at
    joined = sorted(ids - members)
    CampaignMembership.objects.bulk_create(
        [
            CampaignMembership(
                lead_id=lead_id,
                campaign_id=job.campaign_id,
                joined_at=at,
                touched_at=at,
                how=CampaignMembership.How.IMPORT,
            )
            for lead_id in joined
        ],
        ignore_conflicts=True,
    )
    # See _memberships_postgresql: existing leads that joined are announced here.
    created = {r.lead_id for r in records if r.created}
    leads_joined_on_commit([i for i in joined if i not in created], job.system_actor)
    touched = {r.lead_id for r in records if r.changed and not r.created} & members
    if touched:
        CampaignMembership.objects.filter(
            campaign_id=job.campaign_id, lead_id__in=touched, touched_at__lt=at
        ).update(touched_at=at, touches=F("touches") + 1)
