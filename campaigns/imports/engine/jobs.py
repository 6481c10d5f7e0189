"""What both paths share: claiming a job, its lease and progress, the row cleaner."""

import contextlib
import threading
import time
import uuid

from django.conf import settings
from django.utils import timezone

from funnel.import_stories import DealOwners
from leads.roles import is_manager

from ..mapping import IGNORE, STORY_TARGETS
from ..models import ImportJob, ImportRowError
from ..rows import CleanRow, RowCleaner


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


def progress(job: ImportJob, token: str, **changes) -> None:
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
    fields = {t for t in targets if t not in ("attribute", "stage", "stage_at", *STORY_TARGETS)}
    if "attribute" in targets:
        fields.add("attributes")
    return tuple(sorted(fields))


def limits_existing(job: ImportJob) -> bool:
    """Whether the uploader may move existing leads only up to MQL (not a manager or an
    admin; a command run on the server, with no uploader, is the operator's)."""
    return job.created_by is not None and not is_manager(job.created_by)


def deal_owners(job: ImportJob) -> DealOwners:
    return DealOwners(job.owner_choices or {})


def row_error(job: ImportJob, row: CleanRow, cells: list[str]) -> ImportRowError:
    column, _ = row.errors[0]
    return ImportRowError(
        job=job,
        line=row.line,
        column=column,
        message=" ".join(message for _, message in row.errors),
        cells=cells,
    )


_timing = threading.Lock()


@contextlib.contextmanager
def timed(job: ImportJob, phase: str):
    """Wall seconds per phase of this run, kept on the instance (`job.seconds`) for the
    command and the benchmark: where an import spends its time. A phase inside the merge
    ranges (counting) adds up the seconds of the ranges running side by side."""
    start = time.perf_counter()
    try:
        yield
    finally:
        with _timing:
            seconds = getattr(job, "seconds", None)
            if seconds is None:
                seconds = job.seconds = {}
            seconds[phase] = round(seconds.get(phase, 0) + time.perf_counter() - start, 2)
