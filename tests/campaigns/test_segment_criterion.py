"""Campaigns answers funnel's "in the segment of the lead's campaign" criterion."""

import pytest

from campaigns.models import Segment
from campaigns.services import membership_touch
from funnel.criteria import criteria_results
from funnel.models import AcceptanceCriterion

pytestmark = pytest.mark.django_db


@pytest.fixture
def segment_rule(db):
    AcceptanceCriterion.objects.all().delete()
    return AcceptanceCriterion.objects.create(
        name="In the campaign's segment", kind=AcceptanceCriterion.Kind.IN_SEGMENT, required=True
    )


def test_it_passes_a_lead_inside_its_campaigns_segment(segment_rule, make_campaign, make_lead):
    dach = Segment.objects.create(
        name="DACH",
        slug="dach",
        conditions=[{"field": "country", "operator": "in", "value": ["Germany", "Austria"]}],
    )
    campaign = make_campaign("berlin", segment=dach)
    inside = make_lead("mql", country="germany")
    outside = make_lead("mql", country="France")
    for lead in (inside, outside):
        membership_touch(lead=lead, campaign=campaign, how="manual")

    [passed] = criteria_results(inside)
    [failed] = criteria_results(outside)
    assert (passed["passed"], passed["detail"]) == (True, "in DACH, the segment of Berlin.")
    assert (failed["passed"], failed["detail"]) == (False, "not in DACH, the segment of Berlin.")


def test_a_lead_with_no_segmented_campaign_is_not_evaluated(segment_rule, make_campaign, make_lead):
    lead = make_lead("mql")
    membership_touch(lead=lead, campaign=make_campaign("plain"), how="manual")
    [result] = criteria_results(lead)
    assert result["passed"] is None
    assert result["detail"] == "None of the lead's campaigns targets a segment."
