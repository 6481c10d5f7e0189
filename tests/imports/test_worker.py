"""A real Celery worker on Redis runs imports; a worker killed in the middle is resumed; an
import waits on its own queue without holding up the default one."""

import datetime as dt

import psycopg
import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction

from campaigns.imports.models import ImportJob
from campaigns.imports.services import import_job_resume
from campaigns.nurture.tasks import tick
from funnel.models import Transition
from funnel.services import lead_create
from leads.models import Lead
from outbox.models import PendingTask
from outbox.services import task_enqueue_on_commit
from tests.services import database_url, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def rows(count: int) -> bytes:
    lines = ["Email,First Name,Stage"]
    lines += [f"lead{i:04d}@example.com,Lead {i},mql" for i in range(count)]
    return ("\n".join(lines) + "\n").encode()


def test_a_worker_runs_an_upload_end_to_end(worker, api, marketer, campaign):
    worker()
    content = rows(120) + b"LEAD0007@EXAMPLE.COM ,,\nbroken,x,mql\n"
    response = api(marketer).post(
        "/api/imports/",
        {"file": SimpleUploadedFile("list.csv", content), "campaign": campaign.slug},
        format="multipart",
    )
    assert response.status_code == 202
    job_id = response.json()["id"]
    wait_for(
        lambda: ImportJob.objects.get(pk=job_id).status in ("done", "failed"),
        message="the import to finish",
    )
    result = api(marketer).get(f"/api/imports/{job_id}/").json()
    assert {k: result[k] for k in ("status", "total", "processed", "created", "skipped")} == {
        "status": "done",
        "total": 122,
        "processed": 122,
        "created": 120,
        "skipped": 1,
    }
    assert result["errors"] == [
        {"line": 123, "column": "Email", "message": "'broken' is not a valid e-mail address."}
    ]
    assert Lead.objects.filter(stage="mql").count() == 120
    assert campaign.memberships.count() == 120
    assert Transition.objects.filter(verb="import", from_stage="", to_stage="mql").count() == 120


def test_a_killed_worker_leaves_the_job_resumable_and_nothing_is_created_twice(
    worker, marketer, api
):
    existing = lead_create(system_actor="test", fields={"email": "lead0150@example.com"})
    # One merge at a time, so that where it stops is known; the resumed run merges two ranges
    # at a time (the default).
    first = worker(HANDOFF_IMPORT_BATCH_ROWS=50, HANDOFF_IMPORT_MERGE_WORKERS=1)
    # Another connection holds the row of a lead in the fourth batch: the worker commits
    # three batches, then waits for the lock in the middle of the fourth, and dies there.
    holder = psycopg.connect(database_url(connection.settings_dict))
    try:
        holder.execute("SELECT id FROM leads_lead WHERE id = %s FOR UPDATE", [existing.pk])
        response = api(marketer).post(
            "/api/imports/",
            {"file": SimpleUploadedFile("list.csv", rows(300))},
            format="multipart",
        )
        job_id = response.json()["id"]
        wait_for(
            lambda: ImportJob.objects.get(pk=job_id).processed == 150,
            message="three committed batches",
        )
        first.kill()
    finally:
        holder.rollback()
        holder.close()

    job = ImportJob.objects.get(pk=job_id)
    assert (job.status, job.phase, job.processed, job.created) == ("running", "merge", 150, 150)
    # Nobody hears from it: after the stall time it may be resumed (beat does the same).
    later = job.heartbeat_at + dt.timedelta(seconds=settings.HANDOFF_IMPORT_STALL_SECONDS + 1)
    import_job_resume(job=job, now=later)
    worker(HANDOFF_IMPORT_BATCH_ROWS=50)
    wait_for(
        lambda: ImportJob.objects.get(pk=job_id).status in ("done", "failed"),
        message="the resumed import to finish",
    )
    job.refresh_from_db()
    assert (job.status, job.processed, job.created, job.updated, job.failed) == (
        "done",
        300,
        299,
        1,
        0,
    )
    assert Lead.objects.count() == 300
    assert Transition.objects.filter(verb="import", from_stage="").count() == 299
    # The lead that existed moved forward once, to the file's stage.
    moved = Transition.objects.get(lead=existing, verb="import")
    assert (moved.from_stage, moved.to_stage) == ("suspect", "mql")


def test_an_import_waits_on_its_own_queue_and_holds_up_nothing_on_the_default_one(
    worker, api, marketer
):
    worker(queues=["celery"])
    response = api(marketer).post(
        "/api/imports/", {"file": SimpleUploadedFile("list.csv", rows(5))}, format="multipart"
    )
    assert response.status_code == 202
    job_id = response.json()["id"]
    # A nurture tick queued after the import: its outbox row goes once a worker has run it.
    with transaction.atomic():
        ticked = task_enqueue_on_commit(task=tick)
    wait_for(
        lambda: not PendingTask.objects.filter(pk=ticked.pk).exists(),
        message="the default queue's worker to run the nurture tick",
    )
    assert ImportJob.objects.get(pk=job_id).status == "queued"
    assert PendingTask.objects.filter(task="imports.run", sent_at__isnull=False).count() == 1

    worker(queues=["imports"])
    wait_for(
        lambda: ImportJob.objects.get(pk=job_id).status in ("done", "failed"),
        message="the imports queue's worker to run the import",
    )
    job = ImportJob.objects.get(pk=job_id)
    assert (job.status, job.created) == ("done", 5)
    wait_for(lambda: not PendingTask.objects.exists(), message="the import's outbox row to close")
