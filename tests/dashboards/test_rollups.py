"""The rollups equal a recount from the log after any mix of transitions, imports, owner and
campaign changes and concurrent moves; the rebuild gives the same rollups as live upkeep."""

import datetime as dt
import random
import threading

import pytest
from django.core.management import call_command
from django.db import connection

from campaigns.models import Campaign, CampaignMembership
from campaigns.services import campaign_create, membership_touch
from funnel.errors import TransitionError
from funnel.lifecycle import rules_from
from funnel.models import Transition
from funnel.services import lead_create
from leads.models import Lead
from leads.services import lead_update
from leads.stages import FORWARD_RANK
from reporting.models import (
    CohortCount,
    DurationBin,
    LeadFact,
    ReachCount,
    ReasonCount,
)
from reporting.selectors import funnel_snapshot
from reporting.services import (
    lead_fact_refresh,
    lead_facts_refresh,
    lead_facts_refresh_quietly,
    rollups_rebuild,
)
from tests.conftest import move
from tests.dashboards.conftest import T0, import_into
from tests.dashboards.recount import recount, rollup_state

FILTER_SETS = (
    {},
    {"since": dt.date(2025, 1, 10), "until": dt.date(2025, 2, 20)},
    {"campaign": "alpha"},
    {"campaign": "beta", "since": dt.date(2025, 1, 1)},
    {"source": "web"},
    {"owner": "rep"},
    {"owner": "none"},
    {"owner": "me"},
    {"campaign": "alpha", "owner": "rep2"},
)


def _mix(rng, users, steps: int, leads_count: int):
    manager, rep, rep2 = users
    campaigns = [
        campaign_create(name="Alpha", channel="email", slug="alpha"),
        campaign_create(name="Beta", channel="event", slug="beta"),
    ]
    leads, last_at = [], {}
    for number in range(leads_count):
        at = T0 + dt.timedelta(days=rng.randrange(0, 70), hours=rng.randrange(24))
        lead = lead_create(
            system_actor="test",
            fields={
                "email": f"mix{number}@example.com",
                "source": rng.choice(["web", "Event", ""]),
            },
            stage=rng.choice(["suspect", "suspect", "mql"]),
            at=at,
        )
        leads.append(lead)
        last_at[lead.pk] = at
    for _ in range(steps):
        lead = Lead.objects.get(pk=rng.choice(leads).pk)
        at = last_at[lead.pk] + dt.timedelta(hours=rng.randrange(1, 24 * 12))
        last_at[lead.pk] = at
        roll = rng.random()
        if roll < 0.1:
            membership_touch(lead=lead, campaign=rng.choice(campaigns), how="manual", at=at)
        elif roll < 0.18:
            lead_update(lead=lead, actor=manager, changes={"owner": rng.choice([rep, rep2, None])})
        elif roll < 0.24:
            later = [
                s
                for s in ("sql", "opportunity")
                if FORWARD_RANK[s] > FORWARD_RANK.get(lead.stage, 9)
            ]
            if later:
                import_into(lead, rng.choice(later), at)
        else:
            rules = rules_from(lead.stage)
            if rules:
                move(lead, rng.choice(rules).target, manager, at=at)


def _assert_recounts(user):
    for filters in FILTER_SETS:
        assert funnel_snapshot(**filters, user=user) == recount(**filters, user=user), filters


@pytest.mark.django_db
def test_it_equals_a_recount_after_a_mix_of_changes(
    manager, rep, rep2, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _mix(random.Random(11), (manager, rep, rep2), steps=140, leads_count=24)
    assert LeadFact.objects.count() == 24
    _assert_recounts(rep)
    live = rollup_state()
    rollups_rebuild()
    assert rollup_state() == live


@pytest.mark.django_db
def test_it_rebuilds_with_the_command(manager, rep, rep2, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        _mix(random.Random(5), (manager, rep, rep2), steps=40, leads_count=8)
    live = rollup_state()
    CohortCount.objects.all().delete()  # drifted, e.g. a bulk update the signals never saw
    LeadFact.objects.filter(pk__in=list(LeadFact.objects.values_list("pk", flat=True)[:3])).delete()
    assert rollup_state() != live
    call_command("rebuild_rollups", verbosity=0)
    assert rollup_state() == live
    _assert_recounts(rep)


@pytest.mark.django_db
def test_it_refreshes_a_lead_idempotently(make_lead, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        lead = make_lead("sql")
    before = rollup_state()
    lead_fact_refresh(lead_id=lead.pk)
    lead_fact_refresh(lead_id=lead.pk)
    assert rollup_state() == before
    assert funnel_snapshot()["reached"]["sql"] == 1


@pytest.mark.django_db
def test_a_batch_refresh_equals_a_rebuild_and_one_by_one(
    manager, rep, rep2, django_capture_on_commit_callbacks
):
    """Leads whose log changed behind the rollups' back: new ones without a fact, moved
    ones with an old fact, one with no log at all, and an id no lead has any more."""
    with django_capture_on_commit_callbacks(execute=True):
        _mix(random.Random(11), (manager, rep, rep2), steps=30, leads_count=10)
    alpha = Campaign.objects.get(slug="alpha")
    fresh = Lead.objects.bulk_create(
        [Lead(email=f"bulk{n}@example.com", stage="mql", source="web") for n in range(12)]
    )
    Transition.objects.bulk_create(
        [
            Transition(lead=lead, from_stage="", to_stage="mql", verb="import", at=T0)
            for lead in fresh
        ]
    )
    CampaignMembership.objects.bulk_create(
        [CampaignMembership(lead=lead, campaign=alpha, joined_at=T0) for lead in fresh[:5]]
    )
    moved = list(Lead.objects.filter(stage="suspect").order_by("pk")[:3])
    Lead.objects.filter(pk__in=[lead.pk for lead in moved]).update(stage="mql")
    Transition.objects.bulk_create(
        [
            Transition(lead=lead, from_stage="suspect", to_stage="mql", verb="import", at=T0)
            for lead in moved
        ]
    )
    silent = Lead.objects.create(email="no-log@example.com", stage="suspect")
    missing = Lead.objects.order_by("-pk").first().pk + 1000  # e.g. erased meanwhile
    ids = [lead.pk for lead in (*fresh, *moved, silent)] + [missing]
    stale = rollup_state()

    assert lead_facts_refresh(lead_ids=ids + ids[:4]) == len(ids)
    batched = rollup_state()
    assert batched != stale
    assert not LeadFact.objects.filter(pk__in=[missing, silent.pk]).exists()
    assert LeadFact.objects.filter(pk__in=[lead.pk for lead in fresh]).count() == 12
    lead_facts_refresh(lead_ids=ids)  # idempotent
    assert rollup_state() == batched
    for lead_id in ids:
        lead_fact_refresh(lead_id=lead_id)
    assert rollup_state() == batched
    rollups_rebuild()
    assert rollup_state() == batched
    _assert_recounts(rep)


@pytest.mark.django_db
def test_a_failed_batch_refresh_falls_back_to_one_by_one(make_lead, monkeypatch, caplog):
    lead = make_lead("sql")
    LeadFact.objects.all().delete()

    def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("reporting.services.lead_facts_refresh", broken)
    lead_facts_refresh_quietly(lead_ids=[lead.pk])
    assert LeadFact.objects.filter(pk=lead.pk).exists()
    assert "refreshing one by one" in caplog.text


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_equals_a_recount_after_concurrent_moves(manager, rep, rep2):
    leads = [
        lead_create(system_actor="test", fields={"email": f"race{n}@example.com"}, at=T0)
        for n in range(8)
    ]
    for lead in leads[:4]:
        move(lead, "mql", manager, at=T0 + dt.timedelta(hours=1))
    errors, refused = [], []
    barrier = threading.Barrier(4)

    def worker(seed: int):
        rng = random.Random(seed)
        try:
            barrier.wait(timeout=10)
            for _ in range(12):
                lead = Lead.objects.get(pk=rng.choice(leads).pk)
                rules = rules_from(lead.stage)
                if not rules:
                    continue
                try:
                    move(lead, rng.choice(rules).target, manager, expected_from=lead.stage)
                except TransitionError:
                    refused.append(seed)  # another thread moved it first: a clear conflict
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    _assert_recounts(rep)
    live = rollup_state()
    rollups_rebuild()
    assert rollup_state() == live


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_batch_refreshes_beside_moves_stay_exact(manager, rep):
    """Workers refreshing an import's leads in batches (each batch locks its leads in id
    order) while users move some of them: the moves wait or go first, the batches read
    each log as committed, and the rollups end equal to a recount."""
    leads = [
        lead_create(system_actor="test", fields={"email": f"batch{n}@example.com"}, at=T0)
        for n in range(30)
    ]
    ids = [lead.pk for lead in leads]
    # As after an import: neither facts nor counts written for these leads yet.
    for model in (LeadFact, CohortCount, ReachCount, DurationBin, ReasonCount):
        model.objects.all().delete()
    errors = []
    barrier = threading.Barrier(3)

    def refresher(order):
        try:
            barrier.wait(timeout=10)
            for _ in range(4):
                for start in range(0, len(order), 7):
                    lead_facts_refresh(lead_ids=order[start : start + 7])
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    def mover():
        rng = random.Random(3)
        try:
            barrier.wait(timeout=10)
            for _ in range(20):
                lead = Lead.objects.get(pk=rng.choice(ids))
                rules = rules_from(lead.stage)
                if rules:
                    move(lead, rng.choice(rules).target, manager, expected_from=lead.stage)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=refresher, args=(ids,)),
        threading.Thread(target=refresher, args=(ids[::-1],)),  # batches overlap the other's
        threading.Thread(target=mover),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    lead_facts_refresh(lead_ids=ids)  # whatever a move's own refresh had not yet done
    assert LeadFact.objects.count() == 30
    _assert_recounts(rep)
    live = rollup_state()
    rollups_rebuild()
    assert rollup_state() == live


@pytest.mark.django_db
def test_it_follows_changes_made_without_a_transition(
    make_lead, manager, rep, django_capture_on_commit_callbacks
):
    from campaigns.models import CampaignMembership
    from funnel.models import Opportunity
    from reporting.selectors import funnel_scope, scoreboard

    with django_capture_on_commit_callbacks(execute=True):
        lead = make_lead("customer", source="web")
        campaign = campaign_create(name="Gamma", channel="email", slug="gamma")
        membership_touch(lead=lead, campaign=campaign, how="manual")
    assert funnel_snapshot(source="web")["won"] == 1
    assert scoreboard(funnel_scope())[0]["won_amount"] == 12000

    with django_capture_on_commit_callbacks(execute=True):
        lead_update(lead=lead, actor=manager, changes={"source": "Event", "owner": rep})
        deal = Opportunity.objects.get(lead=lead)
        deal.amount = 15000
        deal.save()
    assert funnel_snapshot(source="web")["won"] == 0
    assert funnel_snapshot(source="event", owner="rep")["won"] == 1
    assert scoreboard(funnel_scope())[0]["won_amount"] == 15000

    with django_capture_on_commit_callbacks(execute=True):
        CampaignMembership.objects.get(lead=lead).delete()
    assert funnel_snapshot(campaign="gamma")["won"] == 0
    assert scoreboard(funnel_scope()) == []
    assert funnel_snapshot() == recount()
