"""Writes for marketing: campaigns, campaign membership, segments and fit rules."""

import datetime as dt

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.text import slugify

from leads.fields import touch_clean
from leads.models import Lead
from outbox.services import task_enqueue_on_commit

from .models import Campaign, CampaignMembership, ScoringRule, Segment, capture_token_new
from .segments import conditions_clean, match_clean

# Slugs the pages use for themselves (/campaigns/new/, /segments/preview/).
RESERVED_SLUGS = frozenset({"new", "preview"})

# Campaign fields a marketer sets besides name, slug and channel.
CAMPAIGN_FIELDS = (
    "segment",
    "positioning",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "starts_on",
    "ends_on",
    "budget",
    "owner",
    "capture_published",
    "capture_headline",
    "capture_fields",
    "consent_text",
)


def campaign_create(
    *, name: str, channel: str, slug: str = "", created_by=None, fields: dict | None = None
) -> Campaign:
    slug = slugify(slug or name)[:100]
    extra = {key: value for key, value in (fields or {}).items() if key in CAMPAIGN_FIELDS}
    return Campaign.objects.create(
        name=name, slug=slug, channel=channel, created_by=created_by, **extra
    )


def campaign_update(*, campaign: Campaign, changes: dict) -> Campaign:
    for key, value in changes.items():
        if key not in (*CAMPAIGN_FIELDS, "name", "channel"):
            raise ValueError(f"{key} is not a campaign field a marketer sets")
        setattr(campaign, key, value)
    campaign.save()
    return campaign


def campaign_token_rotate(*, campaign: Campaign) -> Campaign:
    campaign.capture_token = capture_token_new()
    campaign.save(update_fields=["capture_token"])
    return campaign


def membership_touch(
    *,
    lead: Lead,
    campaign: Campaign,
    how: str,
    at: dt.datetime | None = None,
    attribution: dict | None = None,
) -> CampaignMembership:
    """Join the lead to the campaign, or record one more touch if it is a member already.

    `attribution` (UTM parameters, gclid, referrer, landing page) goes with the touch: the
    first touch of a membership keeps its own, a later one that brings any replaces the last.
    """
    at = at or timezone.now()
    touch = touch_clean(attribution or {}) or None
    with transaction.atomic():
        membership, created = CampaignMembership.objects.get_or_create(
            lead=lead,
            campaign=campaign,
            defaults={
                "joined_at": at,
                "touched_at": at,
                "how": how,
                "first_attribution": touch,
                "last_attribution": touch,
            },
        )
        if not created:
            changes = {"touched_at": at, "touches": F("touches") + 1}
            if touch:
                changes["last_attribution"] = touch
            CampaignMembership.objects.filter(pk=membership.pk).update(**changes)
            membership.refresh_from_db()
    return membership


def scores_recompute_queue() -> None:
    """Rescore every lead in a worker once this transaction commits."""
    from .tasks import scores_recompute_all

    task_enqueue_on_commit(task=scores_recompute_all)


def segment_save(
    *,
    segment: Segment | None = None,
    name: str,
    conditions,
    match: str = "all",
    description: str = "",
    slug: str = "",
    actor=None,
) -> Segment:
    """Create or update a segment; ValidationError for a bad condition. A segment that a fit
    rule uses rescores every lead in the background when it changes."""
    cleaned = conditions_clean(conditions)
    match = match_clean(match)
    if segment is None:
        segment = Segment(created_by=actor, slug=slugify(slug or name)[:100] or "segment")
        base, number = segment.slug, 2
        while segment.slug in RESERVED_SLUGS or Segment.objects.filter(slug=segment.slug).exists():
            segment.slug = f"{base[:90]}-{number}"
            number += 1
    segment.name = name
    segment.description = description
    segment.conditions = cleaned
    segment.match = match
    segment.save()
    if segment.scoring_rules.filter(is_active=True).exists():
        scores_recompute_queue()
    return segment


def scoring_rule_save(
    *, rule: ScoringRule | None = None, name: str, segment: Segment, points: int, is_active=True
) -> ScoringRule:
    rule = rule or ScoringRule()
    rule.name, rule.segment, rule.points, rule.is_active = name, segment, points, is_active
    rule.save()
    scores_recompute_queue()
    return rule


def scoring_rule_delete(*, rule: ScoringRule) -> None:
    rule.delete()
    scores_recompute_queue()
