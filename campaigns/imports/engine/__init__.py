"""Running an import: the file streamed from disk, rows cleaned, leads written in batches.

PostgreSQL (`postgresql`): the clean rows are COPYed into an unlogged staging table (one
per job), then merged in sorted identity ranges, one transaction per range, by
`funnel.imports.leads_import_merge`. Other databases (`orm`): batches through the ORM.

Every batch commits with the job's progress and its resume point, under the job's lease
(`runner`): a worker killed in the middle loses at most the batch it was writing, and the
run that takes the job over goes on from the last committed batch.
"""

from pathlib import Path

from django.db import connection
from django.utils import timezone

from ..models import ImportJob
from .jobs import LeaseLost, batch_rows, claim, cleaner_for, mapped_fields, progress, timed
from .orm import run_orm
from .postgresql import drop_staging, run_postgresql

__all__ = [
    "LeaseLost",
    "batch_rows",
    "claim",
    "cleaner_for",
    "drop_staging",
    "mapped_fields",
    "run",
]


def assign_open_mqls(job: ImportJob) -> int:
    """What the uploader asked for: the file's MQLs still open and unassigned go round robin
    (history never does by itself). Answers how many got an owner."""
    from funnel.assignment import lead_assign_round_robin
    from leads.models import Lead
    from leads.stages import Stage

    open_mqls = (
        Lead.objects.filter(
            stage=Stage.MQL,
            owner__isnull=True,
            transitions__to_stage=Stage.MQL,
            transitions__system_actor=job.system_actor,
        )
        .order_by("pk")
        .values_list("pk", flat=True)
        .distinct()
    )
    return sum(lead_assign_round_robin(lead_id=pk) is not None for pk in list(open_mqls))


def enrol_nurture(job: ImportJob) -> int:
    """What the uploader asked for: the file's leads that ended in nurture join the programme
    their exit and reason match, now (history never enrols by itself)."""
    from campaigns.nurture.services import enrollment_start_once
    from funnel.models import Transition
    from leads.stages import Stage

    ends = (
        Transition.objects.filter(
            system_actor=job.system_actor, to_stage=Stage.NURTURE, lead__stage=Stage.NURTURE
        )
        .order_by("lead_id", "-at", "-id")
        .values_list("lead_id", "from_stage", "reason__code")
    )
    seen, count = set(), 0
    for lead_id, from_stage, reason in ends:
        if lead_id in seen:
            continue
        seen.add(lead_id)
        count += (
            enrollment_start_once(lead_id=lead_id, from_stage=from_stage, reason=reason or "")
            is not None
        )
    return count


def run(job: ImportJob, token: str) -> ImportJob:
    if connection.vendor == "postgresql":
        run_postgresql(job, token)
    else:
        with timed(job, "batches"):
            run_orm(job, token)
    if job.assign_open_mqls:
        assign_open_mqls(job)
    if job.enrol_nurture:
        enrol_nurture(job)
    progress(
        job,
        token,
        status=ImportJob.Status.DONE,
        finished_at=timezone.now(),
        runner="",
        failure="",
    )
    Path(job.file_path).unlink(missing_ok=True)
    seconds = getattr(job, "seconds", {})
    job.refresh_from_db()
    job.seconds = seconds
    return job
