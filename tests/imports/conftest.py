import io
import os
from pathlib import Path

import pytest

from campaigns.imports.models import ImportJob
from campaigns.imports.services import import_job_create, import_job_run
from campaigns.models import Campaign


@pytest.fixture(autouse=True)
def _import_dir(settings, tmp_path):
    settings.HANDOFF_IMPORT_DIR = str(tmp_path / "imports")


@pytest.fixture
def campaign(db):
    return Campaign.objects.create(name="Spring webinar", slug="spring-webinar", channel="webinar")


def upload(content: bytes | str, name: str = "leads.csv", **options) -> ImportJob:
    if isinstance(content, str):
        content = content.encode("utf-8")
    return import_job_create(
        user=options.pop("user", None), upload=io.BytesIO(content), file_name=name, **options
    )


def run(job: ImportJob) -> ImportJob:
    """Run a job here, in-process, as the worker would."""
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.QUEUED)
    return import_job_run(job_id=job.pk)


def import_csv(content: bytes | str, name: str = "leads.csv", **options) -> ImportJob:
    return run(upload(content, name, **options))


def errors_of(job: ImportJob) -> list[tuple[int, str, str]]:
    return [(e.line, e.column, e.message) for e in job.row_errors.order_by("line")]


def counts(job: ImportJob) -> tuple[int, int, int, int]:
    return (job.created, job.updated, job.skipped, job.failed)


REPO = Path(__file__).resolve().parents[2]


def shared_data() -> Path | None:
    """../shared/data beside the clone (CI), or above the worktree (a helper's checkout)."""
    given = os.environ.get("HANDOFF_SHARED_DATA")
    candidates = [Path(given)] if given else []
    candidates += [REPO.parent / "shared" / "data", REPO.parent.parent / "shared" / "data"]
    return next((path for path in candidates if (path / "README.md").exists()), None)
