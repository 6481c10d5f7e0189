from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
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

    def erase_personal_data(self) -> int:
        """The one change the log takes, for a GDPR erasure: notes and answers go, the moves
        (from, to, verb, actor, time, reason code) stay."""
        return models.QuerySet.update(self, note="", data={})


class Transition(models.Model):
    """One move of one lead: the append-only log that is the source of truth for history."""

    # Indexed by transition_lead_at; actor and reason (NULL on most rows, every imported one
    # included) by partial indexes: every index is written for each of an import's log rows.
    lead = models.ForeignKey(
        Lead, on_delete=models.PROTECT, related_name="transitions", db_index=False
    )
    from_stage = models.CharField(max_length=16, choices=Stage.choices, blank=True, default="")
    to_stage = models.CharField(max_length=16, choices=Stage.choices)
    verb = models.CharField(max_length=32)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    system_actor = models.CharField(
        max_length=150, blank=True, default="", help_text="The rule or job, when no person acted."
    )
    at = models.DateTimeField(default=timezone.now)
    reason = models.ForeignKey(
        ReasonCode,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
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
            models.Index(
                fields=["actor"], condition=Q(actor__isnull=False), name="transition_actor"
            ),
            models.Index(
                fields=["reason"], condition=Q(reason__isnull=False), name="transition_reason"
            ),
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


# --- the sales workspace: acceptance criteria, assignment, SLA ----------------------------

# Lead fields a criterion may look at.
CRITERION_FIELDS = [
    ("email", "E-mail"),
    ("company", "Company"),
    ("title", "Title"),
    ("phone", "Phone"),
    ("country", "Country"),
    ("city", "City"),
    ("industry", "Industry"),
    ("company_size", "Company size"),
    ("website", "Website"),
    ("source", "Source"),
    ("first_name", "First name"),
    ("last_name", "Last name"),
]


class AcceptanceCriterion(models.Model):
    """One pre-defined check sales makes on an MQL; managers edit them."""

    class Kind(models.TextChoices):
        BUSINESS_EMAIL = "business_email", "Business e-mail (not a free-mail domain)"
        IN_LIST = "in_list", "Field is one of a list"
        AT_LEAST = "at_least", "Number at least"
        CONTAINS_ANY = "contains_any", "Text contains any keyword"
        PRESENT = "present", "Field is present"
        IN_SEGMENT = "in_segment", "In the segment of the lead's campaign"

    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    field = models.CharField(max_length=32, choices=CRITERION_FIELDS, blank=True, default="")
    values = models.JSONField(
        default=list,
        blank=True,
        help_text="The list, the keywords, or the free-mail domains, depending on the kind.",
    )
    number = models.BigIntegerField(null=True, blank=True)
    required = models.BooleanField(
        default=True, help_text="Required criteria are expected to pass; advisory ones inform."
    )
    is_active = models.BooleanField(default=True)
    order = models.PositiveIntegerField(default=100)

    class Meta:
        ordering = ["order", "id"]
        verbose_name_plural = "acceptance criteria"

    def __str__(self) -> str:
        return self.name


class WorkspaceSettings(models.Model):
    """The sales workspace's settings: one row (pk=1), managers edit it."""

    sla_hours = models.PositiveIntegerField(
        default=24,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 90)],
        help_text="Hours an MQL may wait for an accept or reject decision.",
    )
    round_robin = models.BooleanField(
        default=True, help_text="Assign new MQLs to active sales reps in turn."
    )
    # The round-robin cursor of the default pool (all active reps).
    last_assigned = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name_plural = "workspace settings"

    def __str__(self) -> str:
        return "Sales workspace settings"

    @classmethod
    def load(cls) -> "WorkspaceSettings":
        return cls.objects.get_or_create(pk=1)[0]


class TerritoryRule(models.Model):
    """MQLs from these countries go round robin to this team of reps."""

    name = models.CharField(max_length=100)
    countries = models.JSONField(
        default=list, help_text="Country names or codes, matched without regard to case."
    )
    reps = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="territories")
    order = models.PositiveIntegerField(default=100)
    is_active = models.BooleanField(default=True)
    last_assigned = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return self.name


class SlaBreach(models.Model):
    """An MQL that waited longer than the SLA for a decision: found once, e-mailed once."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="sla_breaches")
    # When the lead entered MQL: one breach per stay in MQL.
    mql_since = models.DateTimeField()
    due_at = models.DateTimeField()
    found_at = models.DateTimeField(default=timezone.now)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-found_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["lead", "mql_since"], name="one_breach_per_mql_stay")
        ]

    def __str__(self) -> str:
        return f"SLA breach of lead {self.lead_id} due {self.due_at:%Y-%m-%d %H:%M}"


# --- a rep's working day: activities, tasks, the lead's change log, the morning digest ------


class Activity(models.Model):
    """A call, e-mail, meeting or note logged on a lead: the work sales does on it."""

    class Kind(models.TextChoices):
        CALL = "call", "Call"
        EMAIL = "email", "E-mail"
        MEETING = "meeting", "Meeting"
        NOTE = "note", "Note"

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="activities")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    outcome = models.CharField(max_length=100, blank=True, default="")
    at = models.DateTimeField(default=timezone.now, help_text="When it happened.")
    duration_minutes = models.PositiveIntegerField(null=True, blank=True)
    note = models.TextField(blank=True, default="")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "id"]
        verbose_name_plural = "activities"
        indexes = [models.Index(fields=["lead", "at"], name="activity_lead_at")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on lead {self.lead_id}"

    @property
    def actor_label(self) -> str:
        return self.actor.get_username() if self.actor_id else "system"


class Task(models.Model):
    """A follow-up on a lead, due at a time, owned by one user."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="tasks")
    title = models.CharField(max_length=200)
    due_at = models.DateTimeField()
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["due_at", "id"]
        indexes = [
            # "My day": a user's open tasks by due time.
            models.Index(
                fields=["owner", "due_at"], condition=Q(done_at__isnull=True), name="task_open_due"
            ),
            models.Index(fields=["lead", "due_at"], name="task_lead_due"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def done(self) -> bool:
        return self.done_at is not None


class LeadChange(models.Model):
    """One change of one lead field by a person (owner included): old -> new, who, when."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="changes")
    field = models.CharField(max_length=64)
    old = models.TextField(blank=True, default="")
    new = models.TextField(blank=True, default="")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["lead", "at"], name="leadchange_lead_at")]

    def __str__(self) -> str:
        return f"lead {self.lead_id}: {self.field} {self.old!r} -> {self.new!r}"

    @property
    def field_label(self) -> str:
        return self.field.replace("_", " ")

    @property
    def actor_label(self) -> str:
        return self.actor.get_username() if self.actor_id else "system"


class DigestSent(models.Model):
    """The morning digest claimed for one user and day: its unique row makes it one e-mail."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    claimed_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    tasks = models.PositiveIntegerField(default=0)
    mqls = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "day"], name="one_digest_per_user_day")
        ]

    def __str__(self) -> str:
        return f"digest for {self.user_id} on {self.day}"
