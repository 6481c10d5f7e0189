"""Writes for marketing: campaigns and campaign membership."""

import datetime as dt

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.text import slugify

from leads.models import Lead

from .models import Campaign, CampaignMembership


def campaign_create(*, name: str, channel: str, slug: str = "", created_by=None) -> Campaign:
    slug = slugify(slug or name)[:100]
    return Campaign.objects.create(name=name, slug=slug, channel=channel, created_by=created_by)


def membership_touch(
    *, lead: Lead, campaign: Campaign, how: str, at: dt.datetime | None = None
) -> CampaignMembership:
    """Join the lead to the campaign, or record one more touch if it is a member already."""
    at = at or timezone.now()
    with transaction.atomic():
        membership, created = CampaignMembership.objects.get_or_create(
            lead=lead, campaign=campaign, defaults={"joined_at": at, "touched_at": at, "how": how}
        )
        if not created:
            CampaignMembership.objects.filter(pk=membership.pk).update(
                touched_at=at, touches=F("touches") + 1
            )
            membership.refresh_from_db()
    return membership
