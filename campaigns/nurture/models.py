"""Nurturing: the content library, programmes and their steps, enrollments, the messages
sent (one per enrollment and step), what leads did with them, consent, and audiences."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from leads.models import Lead


class AidaStage(models.TextChoices):
    AWARENESS = "awareness", "Awareness"
    INTEREST = "interest", "Interest"
    DESIRE = "desire", "Desire"
    ACTION = "action", "Action"


class ContentAsset(models.Model):
    class Kind(models.TextChoices):
        BLOG_POST = "blog_post", "Blog post"
        ARTICLE = "article", "Article"
        VIDEO = "video", "Video"
        INFOGRAPHIC = "infographic", "Infographic"
        FAQ = "faq", "FAQ"
        BROCHURE = "brochure", "Brochure"
        CASE_STUDY = "case_study", "Case study"
        WEBINAR = "webinar", "Webinar"

    title = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    url = models.URLField(max_length=500)
    summary = models.TextField(blank=True, default="")
    aida_stage = models.CharField(max_length=12, choices=AidaStage.choices)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["aida_stage", "title"]

    def __str__(self) -> str:
        return self.title


class Exit(models.TextChoices):
    """The stage a lead left for nurture: what a programme's entry rule catches."""

    MQL = "mql", "Rejected MQLs"
    SAL = "sal", "Disqualified SALs"
    SQL = "sql", "Disqualified SQLs"
    OPPORTUNITY = "opportunity", "Lost opportunities"


# The journey stage a lead had reached when it left: which assets fit it.
AIDA_OF_EXIT = {
    Exit.MQL: AidaStage.INTEREST,
    Exit.SAL: AidaStage.INTEREST,
    Exit.SQL: AidaStage.DESIRE,
    Exit.OPPORTUNITY: AidaStage.DESIRE,
}


class Audience(models.Model):
    """A remarketing audience: leads exported, hashed, to ad platforms."""

    name = models.CharField(max_length=150, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Programme(models.Model):
    name = models.CharField(max_length=200)
    exits = models.JSONField(default=list, help_text="The stages left for nurture it catches.")
    reasons = models.JSONField(
        default=list, blank=True, help_text="Only these reason codes; empty catches every reason."
    )
    priority = models.PositiveIntegerField(
        default=100, help_text="Lower first: a lead joins the first programme that matches."
    )
    is_active = models.BooleanField(
        default=True, help_text="A paused programme enrolls nobody and sends nothing."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["priority", "id"]

    def __str__(self) -> str:
        return self.name

    def matches(self, *, from_stage: str, reason: str) -> bool:
        if from_stage not in self.exits:
            return False
        return not self.reasons or reason in self.reasons

    @property
    def exit_labels(self) -> list[str]:
        return [Exit(value).label for value in self.exits if value in Exit.values]


class Step(models.Model):
    class Kind(models.TextChoices):
        EMAIL = "email", "Send an e-mail"
        WAIT = "wait", "Wait"
        AUDIENCE = "audience", "Add to an audience"

    programme = models.ForeignKey(Programme, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField()
    kind = models.CharField(max_length=10, choices=Kind.choices)
    subject = models.CharField(max_length=200, blank=True, default="")
    body = models.TextField(
        blank=True, default="", help_text="Template text; {{ lead.first_name }} and the like."
    )
    asset = models.ForeignKey(
        ContentAsset, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    wait_days = models.PositiveIntegerField(default=0)
    audience = models.ForeignKey(
        Audience, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["programme", "position"]
        constraints = [
            models.UniqueConstraint(fields=["programme", "position"], name="step_position_unique")
        ]

    def __str__(self) -> str:
        return f"{self.programme_id}#{self.position} {self.describe()}"

    def describe(self) -> str:
        if self.kind == self.Kind.EMAIL:
            return f"E-mail: {self.subject}"
        if self.kind == self.Kind.WAIT:
            return f"Wait {self.wait_days} day{'s' if self.wait_days != 1 else ''}"
        return f"Add to audience: {self.audience}"


class Enrollment(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        COMPLETED = "completed", "Programme ended"
        RECYCLED = "recycled", "Recycled to MQL"
        JUNKED = "junked", "Junked"
        UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
        FAILED = "failed", "Failed"

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="enrollments")
    programme = models.ForeignKey(Programme, on_delete=models.PROTECT, related_name="enrollments")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ACTIVE)
    from_stage = models.CharField(max_length=16, choices=Exit.choices)
    reason = models.CharField(max_length=64, blank=True, default="")
    enrolled_at = models.DateTimeField(default=timezone.now)
    # The next step is the programme's first step at or after this position.
    next_position = models.PositiveIntegerField(default=0)
    next_due_at = models.DateTimeField(null=True, blank=True)
    # The tick hands a due enrollment to one worker at a time: set by a conditional update.
    queued_until = models.DateTimeField(null=True, blank=True)
    failures = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=255, blank=True, default="")
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-enrolled_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["lead"], condition=Q(status="active"), name="one_active_enrollment"
            )
        ]
        indexes = [
            models.Index(
                fields=["next_due_at"], condition=Q(status="active"), name="enrollment_due"
            ),
            models.Index(fields=["programme", "status"], name="enrollment_programme"),
        ]

    def __str__(self) -> str:
        return f"{self.lead_id} in {self.programme_id} ({self.status})"


class Message(models.Model):
    """One e-mail step for one enrollment. The unique (enrollment, step) row is the claim."""

    class Status(models.TextChoices):
        SENT = "sent", "Sent"
        SUPPRESSED = "suppressed", "Suppressed (no consent)"

    enrollment = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="messages")
    step = models.ForeignKey(Step, on_delete=models.PROTECT, related_name="messages")
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="nurture_messages")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.SENT)
    to_email = models.CharField(max_length=254, blank=True, default="")
    subject = models.CharField(max_length=255, blank=True, default="")
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["sent_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["enrollment", "step"], name="one_message_per_step")
        ]
        indexes = [models.Index(fields=["lead", "sent_at"], name="message_lead")]

    def __str__(self) -> str:
        return f"{self.subject} to {self.to_email}"


class TrackingEvent(models.Model):
    class Kind(models.TextChoices):
        OPEN = "open", "Opened"
        CLICK = "click", "Clicked"

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="events")
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    url = models.URLField(max_length=500, blank=True, default="")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["message", "kind"], name="tracking_message")]

    def __str__(self) -> str:
        return f"{self.kind} of message {self.message_id}"


class ConsentRecord(models.Model):
    """Every change to a lead's consent to e-mail: when, how, from which message."""

    class Action(models.TextChoices):
        UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
        RESUBSCRIBED = "resubscribed", "E-mail allowed again"

    class How(models.TextChoices):
        ONE_CLICK = "one_click", "One-click (List-Unsubscribe-Post)"
        LINK = "link", "Unsubscribe link, confirmed"
        STAFF = "staff", "Changed by a user"

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="consent_records")
    action = models.CharField(max_length=16, choices=Action.choices)
    how = models.CharField(max_length=12, choices=How.choices)
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)
    # A change made by a user (how=staff): who, and why (required to allow e-mail again).
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.lead_id} {self.action} ({self.how})"


class AudienceMember(models.Model):
    audience = models.ForeignKey(Audience, on_delete=models.CASCADE, related_name="members")
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="+")
    enrollment = models.ForeignKey(
        Enrollment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["audience", "lead"], name="audience_member_unique")
        ]

    def __str__(self) -> str:
        return f"{self.lead_id} in {self.audience_id}"
