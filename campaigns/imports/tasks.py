from celery import shared_task
from django.conf import settings

from .services import import_job_run, imports_resume_stalled


# An import of a million rows runs for minutes: its own time limit, far above the default
# (and below the broker's visibility timeout, which settings derive from it).
@shared_task(
    name="imports.run",
    time_limit=settings.HANDOFF_IMPORT_TIME_LIMIT_SECONDS,
    soft_time_limit=settings.HANDOFF_IMPORT_TIME_LIMIT_SECONDS - 60,
)
def run_import(job_id: int) -> str:
    job = import_job_run(job_id=job_id)
    if job is None:
        return "not claimed: running elsewhere, or not queued"
    return f"{job.status}: {job.created} created, {job.updated} updated, {job.failed} failed"


@shared_task(name="imports.resume_stalled")
def resume_stalled() -> int:
    return imports_resume_stalled()
