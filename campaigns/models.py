from django.conf import settings
from django.db import models
from django.utils import timezone

from leads.models import Lead


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

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class CampaignMembership(models.Model):
    """A lead in a campaign: when and how it joined, and its latest touch.

    A lead's first touch is its earliest `joined_at`, its last touch the latest `touched_at`.
    """

    class How(models.TextChoices):
        IMPORT = "import", "Import"
        FORM = "form", "Form"
        API = "api", "API"
        MANUAL = "manual", "Manual"
        DEMO = "demo", "Demo data"

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="memberships")
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="memberships")
    joined_at = models.DateTimeField(default=timezone.now)
    how = models.CharField(max_length=10, choices=How.choices, default=How.MANUAL)
    touched_at = models.DateTimeField(default=timezone.now)
    touches = models.PositiveIntegerField(default=1)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["lead", "campaign"], name="membership_unique")
        ]
        indexes = [
            models.Index(fields=["campaign", "joined_at"], name="membership_campaign"),
            models.Index(fields=["lead", "joined_at"], name="membership_lead"),
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
