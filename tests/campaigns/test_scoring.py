import pytest

from campaigns.scoring import engagement_record
from funnel.models import Transition

pytestmark = pytest.mark.django_db


def test_a_click_adds_points_without_moving_a_suspect_below_the_threshold(make_lead, settings):
    settings.HANDOFF_MQL_THRESHOLD = 50
    lead = make_lead("suspect")
    engagement_record(lead_id=lead.pk, kind="link_clicked")
    lead.refresh_from_db()
    assert (lead.score, lead.stage) == (20, "suspect")


def test_crossing_the_threshold_engages_a_suspect_naming_the_rule(make_lead):
    lead = make_lead("suspect")
    engagement_record(lead_id=lead.pk, kind="form_submitted", detail="whitepaper form")
    lead.refresh_from_db()
    assert (lead.score, lead.stage) == (50, "mql")
    row = Transition.objects.filter(lead=lead).last()
    assert (row.verb, row.actor_label) == ("engage", "system: score 50 ≥ 50 after form_submitted")


def test_crossing_the_threshold_recycles_a_nurtured_lead(make_lead):
    lead = make_lead("nurture")
    for _ in range(3):
        engagement_record(lead_id=lead.pk, kind="link_clicked")
    lead.refresh_from_db()
    assert (lead.score, lead.stage) == (60, "mql")
    assert Transition.objects.filter(lead=lead, verb="recycle").count() == 1


def test_engagement_after_mql_counts_but_moves_nothing(make_lead):
    lead = make_lead("sal")
    engagement_record(lead_id=lead.pk, kind="form_submitted")
    lead.refresh_from_db()
    assert (lead.score, lead.stage) == (50, "sal")


def test_an_unknown_kind_is_refused(make_lead):
    lead = make_lead("suspect")
    with pytest.raises(ValueError, match="unknown engagement kind"):
        engagement_record(lead_id=lead.pk, kind="liked")
