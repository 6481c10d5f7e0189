import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Upper
from django.utils import timezone

from leads.models import Lead


def capture_token_new() -> str:
    return secrets.token_urlsafe(32)


class Channel(models.TextChoices):
    PAID_SEARCH = "paid_search", "Paid search"
    PAID_SOCIAL = "paid_social", "Paid social"
    LANDING_PAGE = "landing_page", "Landing page"
    BROCHURE = "brochure", "Brochure"
    WEBINAR = "webinar", "Webinar"
    EVENT = "event", "Event"
    EMAIL = "email", "E-mail"
    CONTENT = "content", "Content"
    REFERRAL = "referral", "Referral"
    OTHER = "other", "Other"


class Campaign(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)
    channel = models.CharField(max_length=20, choices=Channel.choices, default=Channel.OTHER)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    segment = models.ForeignKey(
        "Segment", null=True, blank=True, on_delete=models.SET_NULL, related_name="campaigns"
    )
    positioning = models.TextField(blank=True, default="", help_text="The positioning statement.")
    utm_source = models.CharField(max_length=150, blank=True, default="")
    utm_medium = models.CharField(max_length=150, blank=True, default="")
    utm_campaign = models.CharField(max_length=150, blank=True, default="")
    starts_on = models.DateField(null=True, blank=True)
    ends_on = models.DateField(null=True, blank=True)
    budget = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_campaigns",
    )
    # The landing page at /f/<slug>/ and the capture API.
    capture_published = models.BooleanField(default=False)
    capture_headline = models.CharField(max_length=200, blank=True, default="")
    capture_fields = models.JSONField(default=list, blank=True)
    consent_text = models.TextField(
        blank=True, default="", help_text="When set, the form asks for consent with this text."
    )
    capture_token = models.CharField(max_length=64, default=capture_token_new)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def has_ended(self, today) -> bool:
        return self.ends_on is not None and self.ends_on < today


class CampaignMembership(models.Model):
    """A lead in a campaign: when and how it joined, and its latest touch.

    A lead's first touch is its earliest `joined_at`, its last touch the latest `touched_at`.
    Each carries its attribution (leads.fields.TOUCH_FIELDS with a value: UTM parameters,
    gclid, referrer, landing page): `first_attribution` as the lead joined the campaign,
    `last_attribution` as of the latest touch that brought any. NULL: none known.
    """

    class How(models.TextChoices):
        IMPORT = "import", "Import"
        FORM = "form", "Form"
        API = "api", "API"
        MANUAL = "manual", "Manual"
        DEMO = "demo", "Demo data"

    # Both keys are indexed by the unique constraint and the indexes below (lead first,
    # campaign first): no separate FK indexes, written for each imported lead for nothing.
    lead = models.ForeignKey(
        Lead, on_delete=models.CASCADE, related_name="memberships", db_index=False
    )
    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="memberships", db_index=False
    )
    joined_at = models.DateTimeField(default=timezone.now)
    how = models.CharField(max_length=10, choices=How.choices, default=How.MANUAL)
    touched_at = models.DateTimeField(default=timezone.now)
    touches = models.PositiveIntegerField(default=1)
    first_attribution = models.JSONField(null=True, blank=True)
    last_attribution = models.JSONField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["lead", "campaign"], name="membership_unique")
        ]
        indexes = [
            # The lead ids ride along: a campaign's leads are read from the index alone (the
            # funnel's medians for one campaign, reporting.selectors).
            models.Index(
                fields=["campaign", "joined_at"], include=["lead"], name="membership_campaign"
            ),
            models.Index(fields=["lead", "joined_at"], name="membership_lead"),
            # The leads list's utm_source and utm_campaign filters (leads.touches), any case;
            # partial: memberships without attribution (most imports) are not indexed.
            *(
                models.Index(
                    Upper(KeyTextTransform(key, f"{which}_attribution")),
                    condition=Q(**{f"{which}_attribution__isnull": False}),
                    name=f"membership_{which}_{key}",
                )
                for which in ("first", "last")
                for key in ("utm_source", "utm_campaign")
            ),
        ]

    def __str__(self) -> str:
        return f"{self.lead_id} in {self.campaign_id}"


class EngagementEvent(models.Model):
    """Something a lead did that shows interest: it adds to the lead's engagement score."""

    class Kind(models.TextChoices):
        FORM_SUBMITTED = "form_submitted", "Form submitted"
        EMAIL_OPENED = "email_opened", "E-mail opened"
        LINK_CLICKED = "link_clicked", "Link clicked"
        PAGE_VISITED = "page_visited", "Page visited"

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="engagements")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    points = models.IntegerField()
    at = models.DateTimeField(default=timezone.now)
    campaign = models.ForeignKey(
        Campaign, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    detail = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["lead", "at"], name="engagement_lead_at")]

    def __str__(self) -> str:
        return f"{self.lead_id} {self.kind} +{self.points}"


class Segment(models.Model):
    """A saved set of conditions over lead fields and attributes (see campaigns.segments)."""

    class Match(models.TextChoices):
        ALL = "all", "All conditions"
        ANY = "any", "Any condition"

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True, default="")
    match = models.CharField(max_length=3, choices=Match.choices, default=Match.ALL)
    # [{"field": "country", "operator": "in", "value": ["DE", "AT"]}, ...], validated on save.
    conditions = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class CaptureSubmission(models.Model):
    """One accepted form submission: who, through which campaign, and its attribution."""

    class Via(models.TextChoices):
        PAGE = "page", "Landing page"
        API = "api", "Capture API"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="submissions")
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="submissions")
    at = models.DateTimeField(default=timezone.now)
    via = models.CharField(max_length=4, choices=Via.choices)
    created_lead = models.BooleanField(default=False)
    stage_before = models.CharField(max_length=16, blank=True, default="")
    stage_after = models.CharField(max_length=16, blank=True, default="")
    utm_source = models.CharField(max_length=150, blank=True, default="")
    utm_medium = models.CharField(max_length=150, blank=True, default="")
    utm_campaign = models.CharField(max_length=150, blank=True, default="")
    utm_term = models.CharField(max_length=150, blank=True, default="")
    utm_content = models.CharField(max_length=150, blank=True, default="")
    gclid = models.CharField(max_length=255, blank=True, default="")
    referrer = models.CharField(max_length=500, blank=True, default="")
    consent_text = models.TextField(blank=True, default="", help_text="As shown when consenting.")
    fields = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["campaign", "at"], name="submission_campaign_at")]

    def __str__(self) -> str:
        return f"{self.lead_id} via {self.campaign_id} at {self.at:%Y-%m-%d %H:%M}"


class ScoringRule(models.Model):
    """A fit rule: leads in the segment get the points (negative points for a poor fit)."""

    name = models.CharField(max_length=200)
    segment = models.ForeignKey(Segment, on_delete=models.PROTECT, related_name="scoring_rules")
    points = models.IntegerField()
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.points:+d})"
