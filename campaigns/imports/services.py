"""Writes for lead imports: upload a file, choose the mapping, start, resume, run."""

import datetime as dt
import hashlib
import logging
import uuid
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from campaigns.models import Campaign
from leads.stages import Stage
from outbox.services import task_enqueue_on_commit

from . import csvfile, engine
from .mapping import (
    auto_mapping,
    check_mapping,
    detect_dayfirst,
    mapping_from_fields,
    stage_value_mapping,
    stage_value_problem,
    touch_problems,
)
from .models import ImportJob

log = logging.getLogger(__name__)


class ImportRefused(Exception):
    """A clear refusal: 400 (not a CSV, a bad mapping...) or 413 (over the limits)."""

    def __init__(self, message: str, *, status: int = 400, code: str = "invalid"):
        self.message = message
        self.status = status
        self.code = code
        super().__init__(message)


def too_large_message() -> str:
    limit = settings.HANDOFF_IMPORT_MAX_BYTES
    return f"The file is larger than {limit / 1024 / 1024:,.0f} MB; split it into smaller files."


def import_dir() -> Path:
    path = Path(settings.HANDOFF_IMPORT_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _store(upload) -> tuple[Path, int]:
    """Stream the upload (a Django UploadedFile or an open binary file) to the import folder,
    refusing it as soon as it passes the size limit."""
    limit = settings.HANDOFF_IMPORT_MAX_BYTES
    target = import_dir() / f"{uuid.uuid4().hex}.csv"
    size = 0
    chunks = (
        upload.chunks() if hasattr(upload, "chunks") else iter(lambda: upload.read(1 << 20), b"")
    )
    try:
        with open(target, "wb") as out:
            for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise ImportRefused(too_large_message(), status=413, code="too_large")
                out.write(chunk)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return target, size


def _column_values(inspection: csvfile.Inspection, column: str) -> list[str]:
    index = inspection.columns.index(column)
    return [cells[index] for _, cells in inspection.sample if index < len(cells)]


def sample_values(job: ImportJob, column: str) -> list[str]:
    if column not in job.columns:
        return []
    index = job.columns.index(column)
    return [cells[index] for _, cells in job.sample if index < len(cells)]


# More distinct values than this in a stage or owner column is not a stage or owner column.
MAX_DISTINCT_VALUES = 500


def file_value_counts(job: ImportJob, target: str) -> dict[str, int]:
    """{value: rows} of the column mapped to `target`, over the WHOLE file (not the sample),
    most frequent first; placeholders and blanks left out. Kept per job and column for the
    pages (the file does not change)."""
    from django.core.cache import cache

    from .rows import PLACEHOLDERS

    column = next((c for c, t in job.mapping.items() if t == target), None)
    if column is None or job.pk is None or not job.file_path or not Path(job.file_path).exists():
        return {}
    index = job.columns.index(column)
    # By the upload's own file (an id can come back on SQLite) and the column's position (a
    # header may hold spaces, which cache keys must not).
    upload = hashlib.sha256(job.file_path.encode()).hexdigest()[:32]
    key = f"imports:{job.pk}:values:{upload}:{index}"
    found = cache.get(key)
    if found is None:
        counts: dict[str, int] = {}
        for _line, cells in csvfile.data_records(Path(job.file_path), job.encoding, job.delimiter):
            value = cells[index].strip() if index < len(cells) else ""
            if value and value.lower() not in PLACEHOLDERS:
                counts[value] = counts.get(value, 0) + 1
                if len(counts) > MAX_DISTINCT_VALUES:
                    break
        found = dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
        cache.set(key, found, 3600)
    return found


def distinct_stage_values(job: ImportJob) -> list[str]:
    """Every distinct value of the stage column in the whole file."""
    return list(file_value_counts(job, "stage"))


def undecided_stage_values(job: ImportJob) -> list[str]:
    from .mapping import DEFAULT_VALUES, normalise_header

    decided = {normalise_header(k) for k, v in (job.stage_values or {}).items() if v}
    return [
        value
        for value in distinct_stage_values(job)
        if normalise_header(value) not in decided and normalise_header(value) not in DEFAULT_VALUES
    ]


def unmatched_deal_owners(job: ImportJob) -> dict[str, int]:
    """{owner name in the file: rows} for the names that match no user: the mapping page
    asks what to do with each (a user, or unassigned)."""
    from funnel.import_stories import deal_owner_matches

    counts = file_value_counts(job, "deal_owner")
    matches = deal_owner_matches(list(counts))
    return {name: n for name, n in counts.items() if matches[name] is None}


def guess_dayfirst(job: ImportJob) -> bool | None:
    columns = [c for c, t in job.mapping.items() if t == "stage_at"] or list(job.columns)
    for column in columns:
        found = detect_dayfirst(sample_values(job, column))
        if found is not None:
            return found
    return None


def import_job_create(
    *,
    user,
    upload,
    file_name: str,
    campaign: Campaign | None = None,
    default_stage: str = Stage.SUSPECT,
    mapping: dict | None = None,
    stage_values: dict | None = None,
    dayfirst: bool | None = None,
    on_duplicate: str = ImportJob.OnDuplicate.UPDATE,
    assign_open_mqls: bool = False,
    enrol_nurture: bool = False,
    owner_choices: dict | None = None,
    start: bool = False,
) -> ImportJob:
    """Store and inspect the file, guess the mapping, and keep the job; with `start` it is
    queued at once (the API and the command), else it waits for the mapping pages.

    Raises ImportRefused before any row is written."""
    if default_stage not in Stage.values:
        raise ImportRefused(f"{default_stage!r} is not a stage.")
    if on_duplicate not in ImportJob.OnDuplicate.values:
        raise ImportRefused("on_duplicate is update or skip.")
    value_problems = [
        f"stage_values[{value!r}]: {problem}"
        for value, entry in (stage_values or {}).items()
        if (problem := stage_value_problem(entry))
    ]
    if value_problems:
        raise ImportRefused(" ".join(value_problems))
    path, size = _store(upload)
    try:
        inspection = csvfile.inspect(path, max_rows=settings.HANDOFF_IMPORT_MAX_ROWS)
    except csvfile.TooManyRows as exc:
        path.unlink(missing_ok=True)
        raise ImportRefused(str(exc), status=413, code="too_large") from None
    except csvfile.NotACSV as exc:
        path.unlink(missing_ok=True)
        raise ImportRefused(str(exc), code="not_csv") from None
    try:
        chosen = (
            mapping_from_fields(inspection.columns, mapping)
            if mapping
            else auto_mapping(inspection.columns)
        )
    except ValueError as exc:
        path.unlink(missing_ok=True)
        raise ImportRefused(str(exc)) from None
    job = ImportJob(
        created_by=user,
        campaign=campaign,
        file_name=Path(file_name or "upload.csv").name[:255],
        file_path=str(path),
        file_size=size,
        encoding=inspection.encoding,
        delimiter=inspection.delimiter,
        columns=inspection.columns,
        sample=[[line, cells] for line, cells in inspection.sample],
        mapping=chosen,
        default_stage=default_stage,
        on_duplicate=on_duplicate,
        total=inspection.total,
        assign_open_mqls=bool(assign_open_mqls),
        enrol_nurture=bool(enrol_nurture),
        owner_choices={str(k): str(v or "") for k, v in (owner_choices or {}).items()},
    )
    # From the sample here (the request stays quick); the mapping page reads the whole file.
    stage_column = next((c for c, t in job.mapping.items() if t == "stage"), None)
    sampled = dict.fromkeys(v.strip() for v in sample_values(job, stage_column or "") if v.strip())
    job.stage_values = stage_value_mapping(list(sampled), stage_values)
    if stage_values:
        job.stage_values.update(stage_values)
    job.dayfirst = dayfirst if dayfirst is not None else guess_dayfirst(job)
    if start:
        problems = check_mapping(job.mapping) + touch_problems(
            job.mapping, has_campaign=job.campaign_id is not None
        )
        if problems:
            path.unlink(missing_ok=True)
            raise ImportRefused(" ".join(problems))
    job.save()
    if start:
        import_job_start(job=job)
    return job


def import_job_set_mapping(
    *,
    job: ImportJob,
    mapping: dict[str, str],
    stage_values: dict[str, str],
    dayfirst: bool | None,
    on_duplicate: str,
    default_stage: str,
    assign_open_mqls: bool | None = None,
    enrol_nurture: bool | None = None,
    owner_choices: dict | None = None,
) -> list[str]:
    """Keep the choices of the mapping page; answers the problems that stop a start."""
    if job.status != ImportJob.Status.UPLOADED:
        return ["This import has started already."]
    job.mapping = {column: mapping.get(column, "attribute") for column in job.columns}
    job.stage_values = {
        k: v for k, v in stage_values.items() if v and stage_value_problem(v) is None
    }
    job.dayfirst = dayfirst
    job.on_duplicate = on_duplicate
    job.default_stage = default_stage
    fields = ["mapping", "stage_values", "dayfirst", "on_duplicate", "default_stage"]
    if assign_open_mqls is not None:
        job.assign_open_mqls = assign_open_mqls
        fields.append("assign_open_mqls")
    if enrol_nurture is not None:
        job.enrol_nurture = enrol_nurture
        fields.append("enrol_nurture")
    if owner_choices is not None:
        job.owner_choices = owner_choices
        fields.append("owner_choices")
    job.save(update_fields=fields)
    return check_mapping(job.mapping) + touch_problems(
        job.mapping, has_campaign=job.campaign_id is not None
    )


def import_job_start(*, job: ImportJob, require_decided: bool = False) -> ImportJob:
    """Queue the job. From the pages (`require_decided`), every stage value of the whole
    file must have its meaning first; through the API an undecided value is a row error."""
    from .tasks import run_import

    problems = check_mapping(job.mapping) + touch_problems(
        job.mapping, has_campaign=job.campaign_id is not None
    )
    if require_decided:
        undecided = undecided_stage_values(job)
        if undecided:
            problems.append(
                "Decide what each stage value means before the import starts: "
                + ", ".join(map(repr, undecided[:20]))
                + ("..." if len(undecided) > 20 else "")
                + "."
            )
    if problems:
        raise ImportRefused(" ".join(problems))
    started = ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.UPLOADED).update(
        status=ImportJob.Status.QUEUED
    )
    if not started and job.status != ImportJob.Status.UPLOADED:
        raise ImportRefused("This import has started already.", status=409, code="conflict")
    job.status = ImportJob.Status.QUEUED
    task_enqueue_on_commit(task=run_import, args=[job.pk])
    return job


def is_stalled(job: ImportJob, *, now: dt.datetime | None = None) -> bool:
    now = now or timezone.now()
    if job.status != ImportJob.Status.RUNNING or job.heartbeat_at is None:
        return False
    return (now - job.heartbeat_at).total_seconds() > settings.HANDOFF_IMPORT_STALL_SECONDS


def can_resume(job: ImportJob, *, now: dt.datetime | None = None) -> bool:
    return (job.status == ImportJob.Status.FAILED and Path(job.file_path).exists()) or is_stalled(
        job, now=now
    )


def import_job_resume(*, job: ImportJob, now: dt.datetime | None = None) -> ImportJob:
    """Queue a failed or stalled job again; it goes on from its last committed batch."""
    from .tasks import run_import

    if not can_resume(job, now=now):
        raise ImportRefused(
            "Only a failed or stalled import can be resumed.", status=409, code="conflict"
        )
    ImportJob.objects.filter(pk=job.pk, status=job.status, runner=job.runner).update(
        status=ImportJob.Status.QUEUED, runner="", failure=""
    )
    job.refresh_from_db()
    task_enqueue_on_commit(task=run_import, args=[job.pk])
    return job


def imports_resume_stalled(*, now: dt.datetime | None = None) -> int:
    """What beat runs: jobs whose worker died (no heartbeat for a while) are queued again."""
    count = 0
    for job in ImportJob.objects.filter(status=ImportJob.Status.RUNNING):
        if is_stalled(job, now=now):
            import_job_resume(job=job, now=now)
            count += 1
    return count


def import_job_run(*, job_id: int) -> ImportJob | None:
    """Run a queued job to its end (in a worker, or in-process for the command)."""
    claimed = engine.claim(job_id)
    if claimed is None:
        return None
    job, token = claimed
    try:
        return engine.run(job, token)
    except engine.LeaseLost:
        log.warning("import %s: taken over by another run; stopping", job_id)
        return None
    except Exception as exc:
        log.exception("import %s failed", job_id)
        ImportJob.objects.filter(pk=job_id, runner=token).update(
            status=ImportJob.Status.FAILED,
            failure=f"The import stopped: {exc}"[:2000],
            finished_at=timezone.now(),
        )
        raise
