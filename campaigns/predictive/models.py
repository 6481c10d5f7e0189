"""Predictive scoring: each trained model is a version kept with its evaluation."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class Outcome(models.TextChoices):
    SQL = "sql", "Reached SQL"
    CUSTOMER = "customer", "Became a customer"


class PredictiveSettings(models.Model):
    """One row: what a marketer chose for the next training and the probability threshold."""

    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.SQL)
    excluded = models.JSONField(
        default=list, blank=True, help_text="Features left out of training (they leak or mislead)."
    )
    mql_probability = models.FloatField(
        null=True,
        blank=True,
        help_text="A suspect or nurtured lead whose probability reaches this becomes an MQL "
        "(empty: the rules alone decide).",
    )

    class Meta:
        verbose_name_plural = "predictive settings"

    def __str__(self) -> str:
        return "predictive settings"

    @classmethod
    def load(cls) -> "PredictiveSettings":
        found, _ = cls.objects.get_or_create(pk=1)
        return found


class ScoringModel(models.Model):
    """One training: its features, window, evaluation and the fitted model (joblib bytes, in
    the database so every web process and worker reads the same version)."""

    class Status(models.TextChoices):
        TRAINING = "training", "Training"
        READY = "ready", "Ready"
        TOO_FEW_OUTCOMES = "too_few_outcomes", "Too few outcomes"
        FAILED = "failed", "Failed"

    version = models.PositiveIntegerField(unique=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.TRAINING)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.SQL)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    trained_at = models.DateTimeField(null=True, blank=True)
    algorithm = models.CharField(max_length=64, blank=True, default="")
    features = models.JSONField(default=list, blank=True)
    excluded = models.JSONField(default=list, blank=True)
    flagged_leaks = models.JSONField(default=list, blank=True)
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(null=True, blank=True)
    positives = models.PositiveIntegerField(default=0)
    negatives = models.PositiveIntegerField(default=0)
    train_size = models.PositiveIntegerField(default=0)
    test_size = models.PositiveIntegerField(default=0)
    auc = models.FloatField(null=True, blank=True)
    ece = models.FloatField(null=True, blank=True)
    lift = models.JSONField(default=list, blank=True)
    calibration = models.JSONField(default=list, blank=True)
    candidates = models.JSONField(default=list, blank=True)
    strongest = models.JSONField(default=list, blank=True)
    seconds = models.FloatField(null=True, blank=True)
    message = models.TextField(blank=True, default="")
    artifact = models.BinaryField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-version"]

    def __str__(self) -> str:
        return f"model v{self.version} ({self.status})"
