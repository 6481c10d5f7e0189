"""What marketing keeps about a person, removed when the lead is erased (GDPR)."""

from .models import CampaignMembership, CaptureSubmission, EngagementEvent

# A touch's values that point at the person (their click, the pages they came from).
PERSONAL_TOUCH_FIELDS = ("gclid", "referrer", "landing_page")


def erase_marketing_data(sender, *, lead_id: int, **kwargs) -> None:
    # Attribution (campaign, UTM, when) stays; what the person typed or where they came from goes.
    CaptureSubmission.objects.filter(lead_id=lead_id).update(fields={}, referrer="", gclid="")
    EngagementEvent.objects.filter(lead_id=lead_id).update(detail="")
    for membership in CampaignMembership.objects.filter(lead_id=lead_id):
        changes = {}
        for name in ("first_attribution", "last_attribution"):
            value = getattr(membership, name)
            if value and any(key in value for key in PERSONAL_TOUCH_FIELDS):
                kept = {k: v for k, v in value.items() if k not in PERSONAL_TOUCH_FIELDS}
                changes[name] = kept or None
        if changes:
            CampaignMembership.objects.filter(pk=membership.pk).update(**changes)
