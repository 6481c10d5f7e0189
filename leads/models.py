from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from .stages import BUCKET_OF, Stage


class Lead(models.Model):
    """A person in the funnel. Its `stage` is written only by `funnel.services`."""

    # NULL, not "", where absent: the unique constraints apply only where a value exists.
    email = models.EmailField(max_length=254, null=True, blank=True)  # noqa: DJ001
    external_id = models.CharField(  # noqa: DJ001
        max_length=255, null=True, blank=True, help_text="The id in the system it came from."
    )
    first_name = models.CharField(max_length=150, blank=True, default="")
    last_name = models.CharField(max_length=150, blank=True, default="")
    company = models.CharField(max_length=255, blank=True, default="")
    title = models.CharField(max_length=255, blank=True, default="")
    phone = models.CharField(max_length=64, blank=True, default="")
    country = models.CharField(max_length=100, blank=True, default="")
    city = models.CharField(max_length=100, blank=True, default="")
    industry = models.CharField(max_length=150, blank=True, default="")
    company_size = models.PositiveIntegerField(null=True, blank=True)
    website = models.CharField(max_length=255, blank=True, default="")
    source = models.CharField(max_length=150, blank=True, default="")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_leads",
        db_index=False,  # lead_owner below: one index, not two written per lead
    )
    do_not_email = models.BooleanField(default=False)
    attributes = models.JSONField(default=dict, blank=True)

    stage = models.CharField(max_length=16, choices=Stage.choices, default=Stage.SUSPECT)
    stage_changed_at = models.DateTimeField(default=timezone.now)
    score = models.IntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["email"], condition=Q(email__isnull=False), name="lead_email_unique"
            ),
            models.UniqueConstraint(
                fields=["external_id"],
                condition=Q(external_id__isnull=False),
                name="lead_external_id_unique",
            ),
            models.CheckConstraint(
                condition=Q(email__isnull=False) | Q(external_id__isnull=False),
                name="lead_has_email_or_external_id",
            ),
            # E-mails are stored trimmed and lower-cased, so uniqueness is case-insensitive.
            models.CheckConstraint(
                condition=Q(email__isnull=True) | Q(email=models.functions.Lower("email")),
                name="lead_email_lowercase",
            ),
        ]
        indexes = [
            # The queue: a rep's own MQLs oldest first, and its counts by owner and age read
            # from this index alone (it also serves what (stage, owner) served).
            models.Index(
                fields=["stage", "owner", "stage_changed_at"], name="lead_stage_owner_since"
            ),
            models.Index(fields=["stage", "stage_changed_at"], name="lead_stage_since"),
            models.Index(fields=["owner"], name="lead_owner"),
            models.Index(fields=["created_at"], name="lead_created"),
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        name = f"{self.first_name} {self.last_name}".strip()
        return name or self.email or self.external_id or f"Lead {self.pk}"

    @property
    def funnel(self) -> str:
        return BUCKET_OF[self.stage]


class Erasure(models.Model):
    """A GDPR erasure: the lead's personal data was removed everywhere on this date.

    The lead row and its log stay, anonymous, so the funnel's counts do not change."""

    lead = models.OneToOneField(Lead, on_delete=models.PROTECT, related_name="erasure")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)
    reason = models.CharField(max_length=255, blank=True, default="")

    def __str__(self) -> str:
        return f"lead {self.lead_id} erased {self.at:%Y-%m-%d}"


class LeadPrediction(models.Model):
    """The predictive model's latest score of a lead, written by the scorer (campaigns'
    `predictive` app) and read by the lead page, the queue and the API, which do not import it.

    `base` plus every contribution in `reasons` is the score on the logit scale:
    `probability = 1 / (1 + exp(-(base + sum(contributions))))`. `reasons` holds the strongest
    features first and, last, the remaining ones summed as one entry."""

    # No foreign key in the database: a rescoring writes a million rows of leads it has just
    # read, and a per-row constraint trigger would double its cost. Django deletes a lead's
    # prediction with it (leads with a log are never deleted: the log protects them).
    lead = models.OneToOneField(
        Lead,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="prediction",
        db_constraint=False,
    )
    probability = models.FloatField()
    base = models.FloatField(default=0.0)
    reasons = models.JSONField(default=list, blank=True)
    model_version = models.PositiveIntegerField()
    scored_at = models.DateTimeField(default=timezone.now)

    # No index on probability: the queue sorts a page of MQLs joined by lead, and a million
    # rows rewritten per training would pay for it.

    def __str__(self) -> str:
        return f"lead {self.lead_id}: {self.probability:.2f} (model {self.model_version})"

    @property
    def percent(self) -> int:
        return round(self.probability * 100)

    @property
    def top_reasons(self) -> list[dict]:
        return [r for r in self.reasons if r.get("feature") != OTHER_FEATURES][:3]


# The name of the one reason that sums the contributions of the features not listed singly.
OTHER_FEATURES = "(other features)"
