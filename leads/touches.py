"""Reads of a lead's attribution: its first and last touch, and leads by a touch's UTM value.

A touch is a campaign membership (campaigns.models.CampaignMembership, read here through
the lead's `memberships`): the first touch is the membership the lead joined first, with
the attribution it joined with; the last touch is the membership touched last, with the
attribution of its latest touch that brought any.
"""

from django.db.models import Q, QuerySet, Value
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Upper

from .fields import TOUCH_NAMES
from .models import Lead


def _touch(membership, attribution, at) -> dict:
    attribution = attribution or {}
    return {
        "campaign": membership.campaign.slug,
        "campaign_name": membership.campaign.name,
        "channel": membership.campaign.channel,
        "channel_label": membership.campaign.get_channel_display(),
        **{name: attribution.get(name, "") for name in TOUCH_NAMES},
        "at": at,
    }


def lead_touches(lead: Lead) -> tuple[dict | None, dict | None]:
    """(first touch, last touch) of the lead, each None when it has no campaign membership.

    Two index reads (membership_lead is (lead, joined_at)); a lead has a few memberships."""
    memberships = lead.memberships.select_related("campaign")
    first = memberships.order_by("joined_at", "id").first()
    if first is None:
        return None, None
    last = memberships.order_by("-touched_at", "-id").first()
    return (
        _touch(first, first.first_attribution, first.joined_at),
        _touch(last, last.last_attribution, last.touched_at),
    )


def leads_touched_by(queryset: QuerySet[Lead], name: str, value: str) -> QuerySet[Lead]:
    """Leads with a touch (first or latest of any campaign) whose `name` (a UTM field) is
    `value`, case-insensitively."""
    value = (value or "").strip()
    if not value:
        return queryset
    if name not in TOUCH_NAMES:
        raise ValueError(f"{name!r} is not a touch field.")
    # The memberships themselves (no join back to the leads), in the terms of their partial
    # expression indexes (campaigns.models: membership_first_utm_source...).
    memberships = Lead.memberships.rel.related_model.objects
    wanted = Upper(Value(value))
    touched = (
        memberships.alias(
            first=Upper(KeyTextTransform(name, "first_attribution")),
            last=Upper(KeyTextTransform(name, "last_attribution")),
        )
        .filter(
            Q(first_attribution__isnull=False, first=wanted)
            | Q(last_attribution__isnull=False, last=wanted)
        )
        .values("lead_id")
    )
    return queryset.filter(pk__in=touched)
