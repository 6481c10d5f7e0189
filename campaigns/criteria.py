"""The "in the segment of the lead's campaign" acceptance criterion, which funnel asks
campaigns to answer through `funnel.criteria.register_segment_check`."""

from leads.models import Lead

from .models import CampaignMembership
from .segments import conditions_q


def lead_in_campaign_segment(lead: Lead, criterion) -> tuple[bool | None, str]:
    """Checked against the segment of the lead's latest campaign touch that targets one."""
    if lead.pk is None:
        return None, "Not evaluated: the lead is not saved yet."
    membership = (
        CampaignMembership.objects.filter(lead=lead, campaign__segment__isnull=False)
        .select_related("campaign__segment")
        .order_by("-touched_at", "-id")
        .first()
    )
    if membership is None:
        return None, "None of the lead's campaigns targets a segment."
    segment = membership.campaign.segment
    matches = (
        Lead.objects.filter(pk=lead.pk)
        .filter(conditions_q(segment.conditions, segment.match))
        .exists()
    )
    verdict = "in" if matches else "not in"
    return matches, f"{verdict} {segment.name}, the segment of {membership.campaign.name}."
