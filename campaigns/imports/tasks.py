from celery import shared_task

from .services import import_job_run, imports_resume_stalled


# An import of a million rows runs for minutes: its own time limit, far above the default.
@shared_task(name="imports.run", time_limit=6 * 3600, soft_time_limit=6 * 3600 - 60)
def run_import(job_id: int) -> str:
    job = import_job_run(job_id=job_id)
    if job is None:
        return "not claimed: running elsewhere, or not queued"
    return f"{job.status}: {job.created} created, {job.updated} updated, {job.failed} failed"


@shared_task(name="imports.resume_stalled")
def resume_stalled() -> int:
    return imports_resume_stalled()
