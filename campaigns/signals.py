"""Campaigns' own announcements, for the apps above them (reporting) to react to."""

from django.dispatch import Signal

# A change of campaign membership, sent inside the transaction that makes it, with
# sender=CampaignMembership and lead_ids (the leads that joined or left a campaign). A single
# membership's save or delete sends it too (see apps.py); bulk writes (the import engines)
# send it themselves, once per batch.
membership_changed = Signal()

# Sent by the import engines at the end of each batch, inside its transaction, once its
# leads, log rows and memberships are written (sender=CampaignMembership): the moment to
# count the batch's leads, so that they commit counted.
import_batch_written = Signal()


def import_batch_done() -> None:
    from .models import CampaignMembership

    import_batch_written.send(sender=CampaignMembership)


def memberships_changed(lead_ids) -> None:
    """Announce that these leads joined or left a campaign (in the caller's transaction)."""
    from .models import CampaignMembership

    lead_ids = list(lead_ids)
    if lead_ids:
        membership_changed.send(sender=CampaignMembership, lead_ids=lead_ids)


def _announce_one(sender, instance, **kwargs) -> None:
    memberships_changed([instance.lead_id])
