"""An import job says `done` only when its leads are counted: `GET /api/funnel/` read the
moment the job is done equals a recount from the log, with `pending` 0, on PostgreSQL and
SQLite; a move is counted before its request returns; a failed count is reported."""

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from campaigns.imports.models import ImportJob
from reporting.models import LeadFact, PendingRefresh
from reporting.services import rollups_rebuild
from tests.dashboards.recount import recount, rollup_state
from tests.services import wait_for

from .conftest import import_csv

FILTERS = ({}, {"campaign": "spring-webinar"}, {"source": "web"}, {"owner": "none"})


def _csv(count: int, offset: int = 0) -> str:
    stages = ("suspect", "mql", "sql", "opportunity", "customer", "junk")
    lines = ["email,first_name,source,stage"]
    lines += [
        f"lead{i:05d}@example.com,Lead {i},{('web', 'event')[i % 2]},{stages[i % len(stages)]}"
        for i in range(offset, offset + count)
    ]
    return "\n".join(lines) + "\n"


def _answer(api, user, **filters):
    response = api(user).get("/api/funnel/", filters)
    assert response.status_code == 200
    return response.json()


def _assert_exact(api, user, numbers_before=None):
    for filters in FILTERS:
        answer = _answer(api, user, **filters)
        assert answer.pop("pending") == 0
        as_of = dt.datetime.fromisoformat(answer.pop("as_of"))
        assert abs((timezone.now() - as_of).total_seconds()) < 60
        assert answer == recount(**filters, user=user), filters


@pytest.mark.django_db
def test_it_counts_an_import_before_it_says_done(api, manager, campaign, make_lead):
    """In-process, in the test's transaction: nothing deferred to a commit callback runs, so
    whatever the API shows was counted with the import's own batches."""
    make_lead("suspect", email="lead00001@example.com")
    make_lead("mql", email="lead00002@example.com")
    job = import_csv(_csv(300), campaign=campaign)
    assert job.status == ImportJob.Status.DONE
    assert (job.created, job.updated) == (298, 2)
    assert LeadFact.objects.count() == 300
    _assert_exact(api, manager)
    assert _answer(api, manager)["reached"]["suspect"] == 250  # all but the 50 junk
    # What the batches wrote equals a rebuild from the log, row for row.
    live = rollup_state()
    rollups_rebuild()
    assert rollup_state() == live
    assert (
        _answer(api, manager, campaign=campaign.slug)["reached"]["suspect"] == 250
    )  # all but the 50 junk


@pytest.mark.postgres
@pytest.mark.redis
def test_a_worker_import_is_counted_the_moment_it_is_done(worker, api, marketer, campaign):
    worker()
    response = api(marketer).post(
        "/api/imports/",
        {"file": SimpleUploadedFile("list.csv", _csv(2500).encode()), "campaign": campaign.slug},
        format="multipart",
    )
    assert response.status_code == 202
    job_id = response.json()["id"]
    wait_for(
        lambda: ImportJob.objects.get(pk=job_id).status in ("done", "failed"),
        message="the import to finish",
        interval=0.05,
    )
    answer = _answer(api, marketer)  # the moment it says done
    assert ImportJob.objects.get(pk=job_id).status == "done"
    assert answer["pending"] == 0
    assert answer["reached"]["suspect"] == 2500 - 2500 // 6  # all but the junk
    _assert_exact(api, marketer)


@pytest.mark.django_db
def test_it_reports_a_count_that_failed_as_pending(
    api, manager, make_lead, monkeypatch, django_capture_on_commit_callbacks
):
    lead = make_lead("suspect")

    def broken(*args, **kwargs):
        raise RuntimeError("the rollups are unavailable")

    monkeypatch.setattr("reporting.services._refresh", broken)
    from tests.conftest import move

    with django_capture_on_commit_callbacks(execute=True):
        move(lead, "mql", manager)
    answer = _answer(api, manager)
    assert answer["pending"] == 1
    assert dt.datetime.fromisoformat(answer["as_of"]) == PendingRefresh.objects.get().since
    monkeypatch.undo()
    from reporting.services import lead_facts_refresh

    lead_facts_refresh(lead_ids=[lead.pk])
    answer = _answer(api, manager)
    assert answer["pending"] == 0
    assert answer["stages"]["mql"] == 1


@pytest.mark.django_db
def test_it_counts_a_new_mql_once_with_the_owner_the_round_robin_gave_it(
    api, manager, rep, make_lead, monkeypatch, django_capture_on_commit_callbacks
):
    from funnel.models import WorkspaceSettings
    from reporting import services
    from tests.conftest import move

    WorkspaceSettings.objects.update_or_create(pk=1, defaults={"round_robin": True})
    with django_capture_on_commit_callbacks(execute=True):
        lead = make_lead("suspect")
    refreshed = []
    real = services._refresh

    def spy(ids):
        refreshed.append(list(ids))
        return real(ids)

    monkeypatch.setattr(services, "_refresh", spy)
    with django_capture_on_commit_callbacks(execute=True):
        move(lead, "mql", manager)
    lead.refresh_from_db()
    assert lead.owner == rep  # the round robin gave it to the only rep
    assert refreshed == [[lead.pk]]  # once, not for the move and again for the owner
    answer = _answer(api, manager, owner=rep.username)
    assert (answer["stages"]["mql"], answer["pending"]) == (1, 0)
