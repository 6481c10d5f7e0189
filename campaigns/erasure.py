"""What marketing keeps about a person, removed when the lead is erased (GDPR)."""

from .models import CaptureSubmission, EngagementEvent


def erase_marketing_data(sender, *, lead_id: int, **kwargs) -> None:
    # Attribution (campaign, UTM, when) stays; what the person typed or where they came from goes.
    CaptureSubmission.objects.filter(lead_id=lead_id).update(fields={}, referrer="", gclid="")
    EngagementEvent.objects.filter(lead_id=lead_id).update(detail="")
