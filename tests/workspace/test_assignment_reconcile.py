"""The assignment reconciler: an MQL whose on-commit round robin was lost (the process died
after the move's commit, or the assignment raised) gets its owner from beat, in turn, once."""

import datetime as dt
import logging

import pytest
from django.utils import timezone

from config.celery import app
from funnel.assignment import assignments_reconcile, lead_reassign
from funnel.models import Transition, WorkspaceSettings
from funnel.tasks import reconcile_assignments
from leads.models import Lead
from leads.roles import SALES_REP

pytestmark = pytest.mark.django_db

LATER = dt.timedelta(minutes=5)  # past the grace period of a move made just now


@pytest.fixture
def reps(make_user):
    return [make_user(f"r{n}", SALES_REP) for n in range(1, 3)]


def owner_of(lead) -> str | None:
    lead.refresh_from_db()
    return lead.owner.username if lead.owner_id else None


# make_lead moves leads outside django_capture_on_commit_callbacks: their on-commit round robin
# never runs, as when the process that moved them died right after the commit.


def test_it_assigns_lost_mqls_in_turn_and_only_once(make_lead, reps, caplog):
    leads = [make_lead("mql") for _ in range(3)]
    assert [owner_of(lead) for lead in leads] == [None, None, None]

    with caplog.at_level(logging.INFO, logger="funnel.tasks"):
        assert reconcile_assignments(now=(timezone.now() + LATER).isoformat()) == 3
    assert "reconciled 3 MQLs" in caplog.text
    assert [owner_of(lead) for lead in leads] == ["r1", "r2", "r1"]
    assert assignments_reconcile(now=timezone.now() + LATER) == 0


def test_it_leaves_an_mql_within_the_grace_period_to_its_reaction(make_lead, reps):
    lead = make_lead("mql")
    assert assignments_reconcile(now=lead.stage_changed_at + dt.timedelta(seconds=30)) == 0
    assert owner_of(lead) is None
    assert assignments_reconcile(now=lead.stage_changed_at + dt.timedelta(seconds=121)) == 1


def test_it_leaves_an_arrival_older_than_the_window(make_lead, reps):
    lead = make_lead("mql")
    assert assignments_reconcile(now=lead.stage_changed_at + dt.timedelta(days=8)) == 0
    assert owner_of(lead) is None


def test_it_leaves_an_mql_a_manager_handed_back_to_nobody(make_lead, reps, manager):
    lead = make_lead("mql")
    later = timezone.now() + LATER
    Lead.objects.filter(pk=lead.pk).update(owner=reps[0])
    lead_reassign(lead_id=lead.pk, actor=manager, owner=None)
    Lead.objects.filter(pk=lead.pk).update(updated_at=later - dt.timedelta(minutes=1))
    assert assignments_reconcile(now=later) == 0
    assert owner_of(lead) is None


def test_it_leaves_owned_leads_other_stages_and_imported_mqls(make_lead, reps, rep2):
    owned = make_lead("mql", owner=rep2)
    sal = make_lead("sal")
    imported = make_lead("suspect")
    at = timezone.now()
    Lead.objects.filter(pk=imported.pk).update(stage="mql", stage_changed_at=at)
    Transition.objects.create(
        lead=imported, from_stage="suspect", to_stage="mql", verb="import", at=at
    )
    assert assignments_reconcile(now=at + LATER) == 0
    assert (owner_of(owned), owner_of(sal), owner_of(imported)) == ("rep2", None, None)


def test_it_assigns_nobody_when_round_robin_is_off(make_lead, reps):
    WorkspaceSettings.objects.update_or_create(pk=1, defaults={"round_robin": False})
    lead = make_lead("mql")
    assert assignments_reconcile(now=timezone.now() + LATER) == 0
    assert owner_of(lead) is None


def test_it_assigns_at_most_its_limit_per_run_oldest_first(make_lead, reps):
    leads = [make_lead("mql") for _ in range(3)]
    now = timezone.now() + LATER
    assert assignments_reconcile(now=now, limit=2) == 2
    assert [owner_of(lead) is not None for lead in leads] == [True, True, False]
    assert assignments_reconcile(now=now, limit=2) == 1


def test_beat_reconciles_assignments_every_five_minutes_by_default():
    entry = app.conf.beat_schedule["funnel-reconcile-assignments"]
    assert entry["task"] == "funnel.reconcile_assignments"
    assert entry["schedule"] == 300.0
