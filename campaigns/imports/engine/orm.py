"""The plain batched path, for SQLite and any other database: the ORM, batch by batch."""

import json
from itertools import islice
from pathlib import Path

from django.db import transaction
from django.db.models import F

from campaigns.models import CampaignMembership
from campaigns.signals import import_batch_done, memberships_changed
from funnel.imports import (
    IMPORT_RANK,
    IMPORT_VERB,
    ImportRecord,
    leads_import_records,
)
from funnel.models import Transition
from leads.fields import TOUCH_IMPORT_FIELDS, touch_clean

from .. import csvfile
from ..models import ImportJob, ImportRowError
from ..rows import CleanRow
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


def _merge_rows(rows: list[CleanRow]) -> list[ImportRecord]:
    """One record per identity: later non-blank values win, the attributes merged key by key
    (as the PostgreSQL engine merges them), the furthest stage stays."""
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
                story=row.story,
            )
            continue
        record.rows += 1
        attributes = {**record.values.get("attributes", {}), **row.values.get("attributes", {})}
        record.values.update(row.values)
        if attributes:
            record.values["attributes"] = attributes
        if IMPORT_RANK[row.stage] >= IMPORT_RANK[record.stage]:
            record.stage, record.stage_at, record.story = row.stage, row.stage_at, row.story
    return sorted(by_ident.values(), key=lambda record: record.ident)


def run_orm(job: ImportJob, token: str) -> None:
    job.refresh_from_db()
    done = int(job.resume_after or 0)
    if not done:
        with transaction.atomic():
            ImportRowError.objects.filter(job=job).delete()
            progress(
                job, token, read=0, processed=0, created=0, updated=0, skipped=0, merged=0, failed=0
            )
    cleaner = cleaner_for(job)
    fields = mapped_fields(job)
    owners = deal_owners(job)
    limit_existing = limits_existing(job)
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
                    errors.append(row_error(job, row, cells))
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
                limit_existing=limit_existing,
                owners=owners,
            )
            refused = [r for r in merged_records if r.error]
            errors += [
                ImportRowError(job=job, line=r.line, column="", message=r.error) for r in refused
            ]
            merged_records = [r for r in merged_records if not r.error]
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
            merged = len(good) - len(merged_records) - len(refused) + len(again)
            if job.campaign_id:
                _memberships_orm(job, merged_records)
            with timed(job, "count"):  # reporting counts the batch
                import_batch_done()
            ImportRowError.objects.bulk_create(errors, batch_size=1000)
            done += len(chunk)
            progress(
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
    """See _memberships_postgresql: the same joins, touches and attribution."""
    ids = {r.lead_id for r in records if r.lead_id}
    members = set(
        CampaignMembership.objects.filter(campaign_id=job.campaign_id, lead_id__in=ids).values_list(
            "lead_id", flat=True
        )
    )
    # The row's touch (utm_*, gclid with a value), the latest line's for a lead of two rows.
    touches: dict[int, dict] = {}
    for record in sorted(records, key=lambda r: r.line):
        found = touch_clean({k: v for k, v in record.values.items() if k in TOUCH_IMPORT_FIELDS})
        if record.lead_id and found:
            touches[record.lead_id] = found
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
                first_attribution=touches.get(lead_id),
                last_attribution=touches.get(lead_id),
            )
            for lead_id in joined
        ],
        ignore_conflicts=True,
    )
    # See _memberships_postgresql: existing leads that joined are announced here.
    created = {r.lead_id for r in records if r.created}
    memberships_changed(i for i in joined if i not in created)
    changed = {r.lead_id for r in records if r.changed and not r.created} & members
    last = dict(
        CampaignMembership.objects.filter(
            campaign_id=job.campaign_id, lead_id__in=set(touches) & members, touched_at__lt=at
        ).values_list("lead_id", "last_attribution")
    )
    retouched = {i for i, attribution in last.items() if touches[i] != attribution}
    touched = changed | retouched
    if touched:
        CampaignMembership.objects.filter(
            campaign_id=job.campaign_id, lead_id__in=touched, touched_at__lt=at
        ).update(touched_at=at, touches=F("touches") + 1)
    # The new last attribution, one update per distinct touch (a file has few).
    by_touch: dict[str, list[int]] = {}
    for lead_id in sorted(touched & set(touches)):
        by_touch.setdefault(json.dumps(touches[lead_id], sort_keys=True), []).append(lead_id)
    for value, lead_ids in by_touch.items():
        CampaignMembership.objects.filter(campaign_id=job.campaign_id, lead_id__in=lead_ids).update(
            last_attribution=json.loads(value)
        )
