"""Redis stopped and started: work queued on commit while it was down is done once it is back.

A private redis-server is the broker of a real worker with beat. While it is down, an import
is uploaded through the API, a fit rule changes, nurture e-mails fall due and a large import
batch asks for its rollups: every request succeeds and every message waits in the outbox.
Redis comes back empty; beat's sweep sends the messages again and the worker does the work.
"""

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone

from campaigns.imports.models import ImportJob
from campaigns.models import Campaign
from campaigns.nurture.models import Enrollment, Message, Programme, Step
from campaigns.nurture.services import enrollments_queue_due
from campaigns.services import scoring_rule_save, segment_save
from funnel.models import Transition
from leads.models import Lead
from outbox.models import PendingTask
from reporting import receivers
from reporting.models import LeadFact
from tests.dashboards.recount import rollup_state
from tests.services import wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def csv_rows(count: int) -> bytes:
    lines = ["Email,First Name,Country"]
    lines += [f"imported{i:03d}@example.com,Imp {i},FR" for i in range(count)]
    return ("\n".join(lines) + "\n").encode()


def leads_without_rollups(count: int) -> list[int]:
    """Leads with their log rows but no facts yet: what a large import batch leaves for
    `dashboards.refresh_facts`."""
    leads = Lead.objects.bulk_create(
        [Lead(email=f"batch{i}@example.com", stage="mql", country="DE") for i in range(count)]
    )
    Transition.objects.bulk_create(
        [Transition(lead=lead, from_stage="", to_stage="mql", verb="import") for lead in leads]
    )
    return [lead.pk for lead in leads]


def due_enrollment(at: dt.datetime) -> Enrollment:
    programme = Programme.objects.create(name="Faults", exits=["mql"])
    Step.objects.create(programme=programme, position=0, kind="email", subject="Hi", body="x")
    lead = Lead.objects.create(email="nurtured@example.com", stage="nurture")
    return Enrollment.objects.create(
        lead=lead, programme=programme, from_stage="mql", next_due_at=at
    )


def test_work_queued_while_redis_is_down_is_done_when_it_is_back(
    private_redis, worker, smtp_server, api, marketer, settings, monkeypatch, tmp_path
):
    settings.HANDOFF_IMPORT_DIR = str(tmp_path / "imports")
    campaign = Campaign.objects.create(name="Faults", slug="faults", channel="webinar")
    batch = leads_without_rollups(30)
    enrollment = due_enrollment(timezone.now())
    process = worker(
        beat=True,
        REDIS_URL=private_redis.url,
        HANDOFF_IMPORT_DIR=settings.HANDOFF_IMPORT_DIR,
        HANDOFF_OUTBOX_SWEEP_SECONDS=1,
        HANDOFF_OUTBOX_GRACE_SECONDS=1,
        HANDOFF_NURTURE_TICK_SECONDS=3600,
    )

    private_redis.stop()
    response = api(marketer).post(
        "/api/imports/",
        {"file": SimpleUploadedFile("list.csv", csv_rows(40)), "campaign": campaign.slug},
        format="multipart",
    )
    assert response.status_code == 202, response.content
    job_id = response.json()["id"]
    germans = segment_save(
        name="Germany", conditions=[{"field": "country", "operator": "equals", "value": "DE"}]
    )
    scoring_rule_save(name="German", segment=germans, points=7)
    assert enrollments_queue_due(now=timezone.now()) == [[enrollment.pk]]
    # An import batch whose own count failed: its leads are queued for workers with it.
    monkeypatch.setattr(receivers, "lead_facts_refresh", _broken_refresh)
    with transaction.atomic():  # as an import batch does, before it commits
        receivers.leads_count_now(batch)
    monkeypatch.undo()

    waiting = set(PendingTask.objects.filter(sent_at=None).values_list("task", flat=True))
    assert waiting == {
        "imports.run",
        "campaigns.scores_recompute_all",
        "nurture.send_batch",
        "dashboards.refresh_facts",
    }
    assert ImportJob.objects.get(pk=job_id).status == "queued"

    # Back, and empty: nothing the outage queued was ever in it. Beat's sweep sends it all.
    private_redis.start()
    wait_for(lambda: not PendingTask.objects.exists(), timeout=60, message="the outbox to empty")
    wait_for(lambda: Message.objects.count() == 1, message="the nurture message's commit")
    process.kill()  # idle: a kill is quicker than a warm shutdown, and loses nothing
    job = ImportJob.objects.get(pk=job_id)
    assert (job.status, job.created) == ("done", 40)
    assert Lead.objects.filter(email__startswith="imported").count() == 40
    assert set(Lead.objects.filter(pk__in=batch).values_list("score", flat=True)) == {7}
    assert LeadFact.objects.filter(lead_id__in=batch).count() == len(batch)
    assert len(smtp_server.messages) == 1
    # The rollups the worker wrote equal a rebuild from the log.
    live = rollup_state()
    from reporting.services import rollups_rebuild

    rollups_rebuild()
    assert rollup_state() == live


def _broken_refresh(**kwargs):
    raise RuntimeError("the rollups are unavailable")
