"""What nurturing keeps about a person, removed when the lead is erased (GDPR)."""

from .models import AudienceMember, Message


def erase_nurture_data(sender, *, lead_id: int, **kwargs) -> None:
    Message.objects.filter(lead_id=lead_id).update(to_email="", subject="")
    # Off every remarketing list; the consent records stay as the proof they are.
    AudienceMember.objects.filter(lead_id=lead_id).delete()
