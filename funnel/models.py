from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from leads.models import Lead
from leads.stages import Stage


class ReasonCode(models.Model):
    """Why a lead was rejected, disqualified, lost or junked: data managers edit."""

    code = models.SlugField(max_length=64, unique=True)
    label = models.CharField(max_length=150)
    applies_to = models.JSONField(
        default=list, blank=True, help_text="The verbs it may be given for, e.g. reject, lose."
    )
    is_active = models.BooleanField(default=True)
    order = models.PositiveIntegerField(default=100)

    class Meta:
        ordering = ["order", "label"]

    def __str__(self) -> str:
        return self.label

    def applies(self, verb: str) -> bool:
        return not self.applies_to or verb in self.applies_to


class TransitionQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise TypeError("The transition log is append-only.")

    def delete(self):
        raise TypeError("The transition log is append-only.")


class Transition(models.Model):
    """One move of one lead: the append-only log that is the source of truth for history."""

    lead = models.ForeignKey(Lead, on_delete=models.PROTECT, related_name="transitions")
    from_stage = models.CharField(max_length=16, choices=Stage.choices, blank=True, default="")
    to_stage = models.CharField(max_length=16, choices=Stage.choices)
    verb = models.CharField(max_length=32)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    system_actor = models.CharField(
        max_length=150, blank=True, default="", help_text="The rule or job, when no person acted."
    )
    at = models.DateTimeField(default=timezone.now)
    reason = models.ForeignKey(
        ReasonCode, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.TextField(blank=True, default="")
    campaign = models.ForeignKey(
        "campaigns.Campaign", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    data = models.JSONField(default=dict, blank=True)

    objects = TransitionQuerySet.as_manager()

    class Meta:
        ordering = ["at", "id"]
        indexes = [
            models.Index(fields=["lead", "at"], name="transition_lead_at"),
            models.Index(fields=["to_stage", "at"], name="transition_to_at"),
            models.Index(fields=["at"], name="transition_at"),
        ]

    def __str__(self) -> str:
        return f"{self.lead_id}: {self.from_stage or '∅'} -> {self.to_stage} ({self.verb})"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise TypeError("The transition log is append-only.")
        super().save(*args, **kwargs)

    save.alters_data = True

    def delete(self, *args, **kwargs):
        raise TypeError("The transition log is append-only.")

    @property
    def actor_label(self) -> str:
        if self.actor_id:
            return self.actor.get_username()
        return f"system: {self.system_actor}" if self.system_actor else "system"


class PipelineStage(models.Model):
    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=64, unique=True)
    order = models.PositiveIntegerField(default=0)
    probability = models.PositiveSmallIntegerField(
        validators=[MaxValueValidator(100)], help_text="Percent chance of winning."
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return self.name


class Opportunity(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        WON = "won", "Won"
        LOST = "lost", "Lost"

    lead = models.ForeignKey(Lead, on_delete=models.PROTECT, related_name="opportunities")
    amount = models.DecimalField(
        max_digits=14, decimal_places=2, validators=[MinValueValidator(Decimal("0.01"))]
    )
    currency = models.CharField(max_length=3, default="EUR")
    expected_close = models.DateField()
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    pipeline_stage = models.ForeignKey(PipelineStage, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # One open deal per lead: a lead re-enters the pipeline only after the last one closed.
            models.UniqueConstraint(
                fields=["lead"], condition=models.Q(status="open"), name="one_open_opportunity"
            )
        ]
        indexes = [models.Index(fields=["status", "pipeline_stage"], name="opportunity_board")]

    def __str__(self) -> str:
        return f"{self.lead} — {self.amount} {self.currency}"
