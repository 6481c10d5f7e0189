import datetime as dt

import pytest
from django.utils import timezone

from campaigns.models import ScoringRule
from campaigns.scoring import engagement_record, lead_score, score_breakdown, scores_recompute
from campaigns.services import scoring_rule_save, segment_save
from funnel.models import Transition
from tests.services import wait_for

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def dach(marketer):
    return segment_save(
        name="DACH", conditions=[{"field": "country", "operator": "in", "value": "DE,AT,CH"}]
    )


def test_engagement_decays_with_the_half_life_on_a_controlled_clock(make_lead, settings):
    settings.HANDOFF_SCORE_HALF_LIFE_DAYS = 30
    settings.HANDOFF_MQL_THRESHOLD = 1000
    lead = make_lead("suspect")
    engagement_record(lead_id=lead.pk, kind="form_submitted", at=T0)
    lead.refresh_from_db()
    assert lead.score == 50
    assert lead_score(lead.pk, now=T0 + dt.timedelta(days=30)) == 25
    assert lead_score(lead.pk, now=T0 + dt.timedelta(days=60)) == 12  # 12.5 rounds to even
    assert lead_score(lead.pk, now=T0 + dt.timedelta(days=365)) == 0
    # An event in the future of the clock does not count yet.
    assert lead_score(lead.pk, now=T0 - dt.timedelta(days=1)) == 0


def test_no_half_life_means_no_decay(make_lead, settings):
    settings.HANDOFF_SCORE_HALF_LIFE_DAYS = 0
    lead = make_lead("sal")
    engagement_record(lead_id=lead.pk, kind="link_clicked", at=T0)
    assert lead_score(lead.pk, now=T0 + dt.timedelta(days=400)) == 20


def test_old_engagement_no_longer_pushes_a_suspect_over(make_lead, settings):
    settings.HANDOFF_SCORE_HALF_LIFE_DAYS = 10
    lead = make_lead("suspect")
    engagement_record(lead_id=lead.pk, kind="link_clicked", at=T0)
    engagement_record(lead_id=lead.pk, kind="link_clicked", at=T0 + dt.timedelta(days=20))
    lead.refresh_from_db()
    # 20 decayed over 20 days (5) plus a fresh 20: no MQL at a threshold of 50
    assert (lead.score, lead.stage) == (25, "suspect")
    engagement_record(lead_id=lead.pk, kind="link_clicked", at=T0 + dt.timedelta(days=20))
    lead.refresh_from_db()
    assert (lead.score, lead.stage) == (45, "suspect")
    engagement_record(lead_id=lead.pk, kind="page_visited", at=T0 + dt.timedelta(days=20))
    lead.refresh_from_db()
    assert (lead.score, lead.stage) == (55, "mql")


def test_fit_rules_add_points_and_the_threshold_names_the_rule(make_lead, dach):
    scoring_rule_save(name="DACH fit", segment=dach, points=35)
    lead = make_lead("suspect", country="de")
    engagement_record(lead_id=lead.pk, kind="link_clicked", at=T0)
    lead.refresh_from_db()
    assert (lead.score, lead.stage) == (55, "mql")
    row = Transition.objects.get(lead=lead, verb="engage")
    assert row.actor_label == "system: score 55 ≥ 50 after link_clicked (fit: DACH fit +35)"


def test_recompute_engages_and_recycles_when_a_rule_makes_them_cross(
    make_lead, dach, settings, django_capture_on_commit_callbacks
):
    suspect = make_lead("suspect", country="AT")
    nurtured = make_lead("nurture", country="CH")
    customer = make_lead("customer", country="DE")
    outsider = make_lead("suspect", country="FR")
    with django_capture_on_commit_callbacks() as callbacks:
        scoring_rule_save(name="Ideal customer profile", segment=dach, points=60)
    assert len(callbacks) == 1  # the bulk rescoring is queued for a worker
    result = scores_recompute(now=T0)
    assert result == {"leads": 4, "updated": 3, "moved": 2}
    for lead in (suspect, nurtured, customer, outsider):
        lead.refresh_from_db()
    assert [lead.stage for lead in (suspect, nurtured, customer, outsider)] == [
        "mql",
        "mql",
        "customer",
        "suspect",
    ]
    assert (suspect.score, outsider.score) == (60, 0)
    recycle = Transition.objects.get(lead=nurtured, verb="recycle")
    assert recycle.actor_label == (
        "system: score 60 ≥ 50 after rescoring (fit: Ideal customer profile +60)"
    )
    # Running it again changes nothing.
    assert scores_recompute(now=T0) == {"leads": 4, "updated": 0, "moved": 0}


def test_recompute_lets_scores_decay(make_lead, settings):
    settings.HANDOFF_SCORE_HALF_LIFE_DAYS = 30
    lead = make_lead("sal")
    engagement_record(lead_id=lead.pk, kind="form_submitted", at=T0)
    scores_recompute(now=T0 + dt.timedelta(days=30), batch=1)
    lead.refresh_from_db()
    assert lead.score == 25


def test_the_lead_page_shows_the_score_and_how_it_was_made(client, manager, make_lead, dach):
    scoring_rule_save(name="DACH fit", segment=dach, points=15)
    lead = make_lead("sal", country="DE")
    engagement_record(lead_id=lead.pk, kind="link_clicked", at=timezone.now())
    client.force_login(manager)
    body = client.get(f"/leads/{lead.pk}/").content.decode()
    assert "Score 35" in body
    assert "DACH fit (DACH) +15" in body
    assert "Link clicked" in body and "20 → 20.0 now" in body
    breakdown = score_breakdown(lead)
    assert (breakdown.fit_points, round(breakdown.engagement_points)) == (15, 20)


def test_marketers_manage_rules_and_reps_may_not(client, marketer, rep, dach):
    client.force_login(rep)
    assert client.get("/scoring/").status_code == 403
    payload = {"name": "DACH", "segment": dach.pk, "points": "30", "is_active": "on"}
    assert client.post("/scoring/", payload).status_code == 403
    client.force_login(marketer)
    assert client.post("/scoring/", {**payload, "points": "5000"}).status_code == 400
    response = client.post("/scoring/", payload)
    assert response.status_code == 302
    rule = ScoringRule.objects.get()
    assert (rule.points, rule.segment) == (30, dach)
    assert "DACH (+30)" in client.get("/scoring/").content.decode()
    client.force_login(rep)
    assert client.post(f"/scoring/{rule.pk}/delete/").status_code == 403
    client.force_login(marketer)
    assert client.post(f"/scoring/{rule.pk}/delete/").status_code == 302
    assert not ScoringRule.objects.exists()


@pytest.mark.postgres
@pytest.mark.redis
def test_a_worker_rescores_every_lead_when_a_rule_changes(worker, make_lead, marketer):
    dach = segment_save(
        name="DACH", conditions=[{"field": "country", "operator": "equals", "value": "DE"}]
    )
    leads = [make_lead("suspect", country="DE") for _ in range(3)]
    worker()
    scoring_rule_save(name="Home market", segment=dach, points=70)
    wait_for(
        lambda: Transition.objects.filter(lead__in=leads, verb="engage").count() == 3,
        message="the worker to engage the three DACH suspects",
    )
    assert {lead.score for lead in type(leads[0]).objects.filter(pk__in=[x.pk for x in leads])} == {
        70
    }


def test_a_fit_rule_cannot_use_a_segment_on_the_score(client, marketer):
    circular = segment_save(
        name="Hot", conditions=[{"field": "score", "operator": "at_least", "value": 10}]
    )
    client.force_login(marketer)
    response = client.post("/scoring/", {"name": "Hot", "segment": circular.pk, "points": "10"})
    assert response.status_code == 400
    assert "filters on the score" in response.content.decode()
    assert not ScoringRule.objects.exists()
