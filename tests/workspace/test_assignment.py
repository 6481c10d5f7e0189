"""Assignment: round robin among active reps, territories, claims and reassignment."""

import pytest

from funnel.assignment import lead_assign_round_robin, lead_claim, lead_reassign
from funnel.errors import AlreadyTaken, TransitionForbidden
from funnel.models import TerritoryRule, WorkspaceSettings
from funnel.services import lead_create
from leads.roles import SALES_REP
from tests.conftest import move

pytestmark = pytest.mark.django_db


@pytest.fixture
def reps(make_user):
    return [make_user(f"r{n}", SALES_REP) for n in range(1, 4)]


def _owner_of(lead):
    lead.refresh_from_db()
    return lead.owner.username if lead.owner_id else None


def test_it_assigns_new_mqls_in_turn_and_skips_inactive_reps(make_lead, reps, manager):
    reps[1].is_active = False
    reps[1].save()
    owners = []
    for _ in range(4):
        lead = make_lead("mql")
        lead_assign_round_robin(lead_id=lead.pk)
        owners.append(_owner_of(lead))
    assert owners == ["r1", "r3", "r1", "r3"]
    assert "manager" not in owners


def test_it_assigns_on_entering_mql_through_the_signal(
    reps, manager, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        lead = lead_create(system_actor="test", fields={"email": "new@acme.io"}, stage="mql")
    assert _owner_of(lead) == "r1"
    with django_capture_on_commit_callbacks(execute=True):
        suspect = lead_create(system_actor="test", fields={"email": "cold@acme.io"})
    assert _owner_of(suspect) is None
    with django_capture_on_commit_callbacks(execute=True):
        move(suspect, "mql", manager)
    assert _owner_of(suspect) == "r2"


def test_it_leaves_owned_leads_and_other_stages_alone(make_lead, reps, rep2):
    owned = make_lead("mql", owner=rep2)
    assert lead_assign_round_robin(lead_id=owned.pk) is None
    assert _owner_of(owned) == "rep2"
    sal = make_lead("sal")
    assert lead_assign_round_robin(lead_id=sal.pk) is None


def test_it_assigns_nobody_when_round_robin_is_off(make_lead, reps):
    WorkspaceSettings.objects.update_or_create(pk=1, defaults={"round_robin": False})
    lead = make_lead("mql")
    assert lead_assign_round_robin(lead_id=lead.pk) is None
    assert _owner_of(lead) is None


def test_it_sends_a_territory_to_its_team_in_turn(make_lead, reps):
    france = TerritoryRule.objects.create(name="France", countries=["FR", "France"])
    france.reps.set([reps[1], reps[2]])
    picked = []
    for _ in range(3):
        lead = make_lead("mql", country="france")
        lead_assign_round_robin(lead_id=lead.pk)
        picked.append(_owner_of(lead))
    assert picked == ["r2", "r3", "r2"]
    elsewhere = make_lead("mql", country="Spain")
    lead_assign_round_robin(lead_id=elsewhere.pk)
    assert _owner_of(elsewhere) == "r1"


def test_a_territory_without_active_reps_falls_back_to_everyone(make_lead, reps):
    team = TerritoryRule.objects.create(name="DE", countries=["DE"])
    reps[2].is_active = False
    reps[2].save()
    team.reps.set([reps[2]])
    lead = make_lead("mql", country="DE")
    lead_assign_round_robin(lead_id=lead.pk)
    assert _owner_of(lead) == "r1"


def test_a_rep_claims_an_unassigned_lead_once(make_lead, rep, rep2):
    lead = make_lead("mql")
    assert lead_claim(lead_id=lead.pk, actor=rep).owner == rep
    assert lead_claim(lead_id=lead.pk, actor=rep).owner == rep  # claiming again is harmless
    with pytest.raises(AlreadyTaken, match="rep already took lead"):
        lead_claim(lead_id=lead.pk, actor=rep2)
    assert _owner_of(lead) == "rep"


def test_only_reps_claim_and_only_managers_reassign(make_lead, rep, rep2, manager, marketer):
    lead = make_lead("mql", owner=rep)
    with pytest.raises(TransitionForbidden):
        lead_claim(lead_id=make_lead("mql").pk, actor=marketer)
    with pytest.raises(TransitionForbidden):
        lead_reassign(lead_id=lead.pk, actor=rep, owner="rep2")
    lead_reassign(lead_id=lead.pk, actor=manager, owner="rep2")
    assert _owner_of(lead) == "rep2"


def test_a_manager_cannot_reassign_to_an_inactive_user(make_lead, rep, rep2, manager):
    from funnel.errors import InvalidTransition

    rep2.is_active = False
    rep2.save()
    lead = make_lead("mql", owner=rep)
    with pytest.raises(InvalidTransition, match="not active"):
        lead_reassign(lead_id=lead.pk, actor=manager, owner="rep2")
    assert _owner_of(lead) == "rep"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_mqls_arriving_at_once_go_to_two_reps(make_lead, reps):
    import threading

    from django.db import connection

    WorkspaceSettings.objects.update_or_create(pk=1, defaults={"round_robin": False})
    leads = [make_lead("mql") for _ in range(2)]
    WorkspaceSettings.objects.filter(pk=1).update(round_robin=True)
    barrier = threading.Barrier(2)
    chosen = []

    def assign(lead):
        try:
            barrier.wait(timeout=10)
            chosen.append(lead_assign_round_robin(lead_id=lead.pk).username)
        finally:
            connection.close()

    threads = [threading.Thread(target=assign, args=(lead,)) for lead in leads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert sorted(chosen) == ["r1", "r2"]
