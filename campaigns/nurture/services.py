"""Writes for nurturing: enrollments start and end, the tick hands due enrollments to
workers, a worker sends each e-mail step exactly once, opens and clicks count as
engagement, unsubscribes are recorded and stop everything.

Exactly once per (enrollment, step): before the SMTP call the worker claims the step with
a conditional update of the enrollment (from the position it read to the next one) and
inserts the unique (enrollment, step) message row, in a transaction it commits as soon as
the server has answered 250. A crash before the 250 rolls the claim back with the
connection (the server kept nothing either, so a later attempt sends it once); a second
worker or a second beat waits on the row lock, then finds the update changes nothing.
"""

import datetime as dt
import logging
import smtplib
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import get_connection
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from campaigns.scoring import engagement_record
from leads.models import Lead

from .mailing import BadTemplate, build_email, render_subject
from .models import (
    AIDA_OF_EXIT,
    Audience,
    AudienceMember,
    ConsentRecord,
    ContentAsset,
    Enrollment,
    Message,
    Programme,
    Step,
    TrackingEvent,
)

log = logging.getLogger(__name__)

# What a worker retries with backoff: the server said "later", or the line dropped.
SMTP_ERRORS = (smtplib.SMTPException, OSError)


# --- enrollments --------------------------------------------------------------------------


def programme_for(*, from_stage: str, reason: str) -> Programme | None:
    for programme in Programme.objects.filter(is_active=True).order_by("priority", "id"):
        if programme.matches(from_stage=from_stage, reason=reason):
            return programme
    return None


def enrollment_start(
    *, lead_id: int, from_stage: str, reason: str = "", at: dt.datetime | None = None
) -> Enrollment | None:
    """Enroll a lead that entered nurture in the first programme whose rule matches.

    Its first step is due at once, so a first e-mail goes out on the next tick.
    """
    at = at or timezone.now()
    programme = programme_for(from_stage=from_stage, reason=reason)
    if programme is None:
        return None
    with transaction.atomic():
        # A lead has one active enrollment: a new lap in nurture ends any left over.
        Enrollment.objects.filter(lead_id=lead_id, status=Enrollment.Status.ACTIVE).update(
            status=Enrollment.Status.COMPLETED, ended_at=at, next_due_at=None
        )
        return Enrollment.objects.create(
            lead_id=lead_id,
            programme=programme,
            from_stage=from_stage,
            reason=reason or "",
            enrolled_at=at,
            next_position=0,
            next_due_at=at,
        )


def enrollment_end(
    *, lead_id: int, status: str, at: dt.datetime | None = None
) -> int:  # how many ended
    at = at or timezone.now()
    return Enrollment.objects.filter(lead_id=lead_id, status=Enrollment.Status.ACTIVE).update(
        status=status, ended_at=at, next_due_at=None, queued_until=None
    )


# --- the tick -----------------------------------------------------------------------------


def enrollments_queue_due(*, now: dt.datetime, limit: int | None = None) -> list[list[int]]:
    """Hand due enrollments to workers in batches; returns the batches handed out.

    A conditional update marks each enrollment queued for a lease, under SKIP LOCKED, so
    two beats ticking at once hand out disjoint batches; after the lease (a worker died)
    the next tick hands it out again.
    """
    from .tasks import send_batch  # tasks import services: import here, not at the top

    limit = limit or settings.HANDOFF_NURTURE_MAX_PER_TICK
    lease = now + dt.timedelta(seconds=settings.HANDOFF_NURTURE_LEASE_SECONDS)
    not_queued = Q(queued_until__isnull=True) | Q(queued_until__lt=now)
    # One pass over the due-time index, then each batch claimed by primary key.
    due = list(
        Enrollment.objects.filter(
            not_queued,
            status=Enrollment.Status.ACTIVE,
            next_due_at__lte=now,
            failures__lt=settings.HANDOFF_NURTURE_MAX_FAILURES,
            programme__is_active=True,
        )
        .order_by("next_due_at", "id")
        .values_list("id", flat=True)[:limit]
    )
    batches: list[list[int]] = []
    size = settings.HANDOFF_NURTURE_BATCH_SIZE
    for start in range(0, len(due), size):
        with transaction.atomic():
            ids = list(
                Enrollment.objects.filter(not_queued, pk__in=due[start : start + size])
                .select_for_update(skip_locked=True)
                .order_by("id")
                .values_list("id", flat=True)
            )
            if not ids:
                continue
            Enrollment.objects.filter(pk__in=ids).update(queued_until=lease)
            send_batch.delay_on_commit(ids, now.isoformat())
        batches.append(ids)
    return batches


# --- the worker ---------------------------------------------------------------------------


class SendInterrupted(Exception):
    """The SMTP server refused or failed; `remaining` are the ids not yet done."""

    def __init__(self, remaining: list[int], error: BaseException):
        super().__init__(f"{type(error).__name__}: {error}")
        self.remaining = remaining
        self.error = error


class _Steps:
    """Each programme's steps, read once per batch."""

    def __init__(self):
        self._by_programme: dict[int, list[Step]] = {}
        self._assets: dict[str, ContentAsset | None] = {}

    def after(self, programme_id: int, position: int) -> Step | None:
        steps = self._by_programme.get(programme_id)
        if steps is None:
            steps = list(
                Step.objects.filter(programme_id=programme_id)
                .select_related("asset", "audience")
                .order_by("position")
            )
            self._by_programme[programme_id] = steps
        for step in steps:
            if step.position >= position:
                return step
        return None

    def asset_for(self, step: Step, from_stage: str) -> ContentAsset | None:
        """The step's asset, or the newest one that fits the lead's journey stage."""
        if step.asset_id:
            return step.asset
        aida = AIDA_OF_EXIT.get(from_stage)
        if aida not in self._assets:
            self._assets[aida] = (
                ContentAsset.objects.filter(aida_stage=aida).order_by("-created_at", "-id").first()
            )
        return self._assets[aida]


def messages_send_due(*, enrollment_ids: list[int], now: dt.datetime) -> int:
    """Advance each due enrollment through its due steps; returns the e-mails sent.

    Raises SendInterrupted on an SMTP error, with the ids still to do (the failed one first).
    """
    steps = _Steps()
    # One read for the batch; each claim below re-checks the enrollment's state.
    batch = {enrollment.pk: enrollment for enrollment in _due_enrollments(enrollment_ids, now)}
    if not batch:
        return 0
    connection = get_connection(fail_silently=False)
    sent = 0
    try:
        # Opened here, one connection for the whole batch (send_messages alone would
        # open and close one per message).
        connection.open()
    except SMTP_ERRORS as exc:
        raise SendInterrupted(enrollment_ids, exc) from exc
    try:
        for index, enrollment_id in enumerate(enrollment_ids):
            enrollment = batch.get(enrollment_id)
            if enrollment is None:
                continue
            try:
                sent += enrollment_advance(
                    enrollment=enrollment, now=now, connection=connection, steps=steps
                )
            except SMTP_ERRORS as exc:
                enrollment_failed(enrollment_id=enrollment_id, error=exc, at=now)
                raise SendInterrupted(enrollment_ids[index:], exc) from exc
            except BadTemplate as exc:
                # A retry would not fix the template; the marketer sees the error.
                enrollment_failed(enrollment_id=enrollment_id, error=exc, at=now)
    finally:
        try:
            connection.close()
        except SMTP_ERRORS:
            log.warning("closing the SMTP connection failed", exc_info=True)
    return sent


def _due_enrollments(enrollment_ids: list[int], now: dt.datetime):
    unsubscribed = ConsentRecord.objects.filter(
        lead_id=OuterRef("lead_id"), action=ConsentRecord.Action.UNSUBSCRIBED
    )
    # By primary key alone, state checked here: many enrollments share a due time (a bulk
    # enrollment), and a plan through the due-time index would visit all of them.
    rows = (
        Enrollment.objects.filter(pk__in=enrollment_ids)
        .select_related("lead")
        .annotate(unsubscribed=Exists(unsubscribed))
        .order_by()
    )
    return [
        row
        for row in rows
        if row.status == Enrollment.Status.ACTIVE
        and row.next_due_at is not None
        and row.next_due_at <= now
    ]


def enrollment_failed(*, enrollment_id: int, error: BaseException, at: dt.datetime) -> None:
    """Count a failed attempt; past the limit the enrollment stops, visibly."""
    failures = Enrollment.objects.filter(pk=enrollment_id).values_list("failures", flat=True)
    count = (failures.first() or 0) + 1
    changes = {"failures": count, "last_error": f"{type(error).__name__}: {error}"[:255]}
    if count >= settings.HANDOFF_NURTURE_MAX_FAILURES:
        changes.update(status=Enrollment.Status.FAILED, ended_at=at, next_due_at=None)
    Enrollment.objects.filter(pk=enrollment_id, status=Enrollment.Status.ACTIVE).update(**changes)


@dataclass
class _Plan:
    """What running an enrollment's due steps up to its next e-mail will change."""

    changes: dict
    audiences: list[int]
    email: Step | None


def _plan(enrollment: Enrollment, *, now: dt.datetime, steps: _Steps) -> _Plan:
    """Walk from the next step through at most one e-mail, on to the next wait, e-mail or
    the end: one transaction then covers the e-mail and the audience steps after it."""
    position = enrollment.next_position
    audiences: list[int] = []
    email = None
    while True:
        step = steps.after(enrollment.programme_id, position)
        if step is None:
            changes = {
                "next_position": position,
                "status": Enrollment.Status.COMPLETED,
                "ended_at": now,
                "next_due_at": None,
            }
            return _Plan(changes, audiences, email)
        if step.kind == Step.Kind.EMAIL and email is not None:
            return _Plan({"next_position": step.position, "next_due_at": now}, audiences, email)
        position = step.position + 1
        if step.kind == Step.Kind.EMAIL:
            email = step
        elif step.kind == Step.Kind.AUDIENCE and step.audience_id:
            audiences.append(step.audience_id)
        elif step.kind == Step.Kind.WAIT and step.wait_days:
            changes = {
                "next_position": position,
                "next_due_at": now + dt.timedelta(days=step.wait_days),
            }
            return _Plan(changes, audiences, email)


def enrollment_advance(
    *, enrollment: Enrollment, now: dt.datetime, connection, steps: _Steps | None = None
) -> int:
    """Run an enrollment's due steps, one transaction per e-mail; returns e-mails sent.

    `enrollment` was read without a lock: each transaction claims its move with a
    conditional update on the state it was read in, so a second worker, a second beat or
    an unsubscribe that got there first makes the update change nothing, and we stop.
    """
    steps = steps or _Steps()
    sent = 0
    while enrollment.status == Enrollment.Status.ACTIVE and enrollment.next_due_at <= now:
        plan = _plan(enrollment, now=now, steps=steps)
        with transaction.atomic():
            # Every claim moves next_position on (or ends the enrollment), so (status,
            # position) is the version; no due-time condition, for the reason above.
            claimed = Enrollment.objects.filter(
                pk=enrollment.pk,
                status=Enrollment.Status.ACTIVE,
                next_position=enrollment.next_position,
            ).update(queued_until=None, failures=0, **plan.changes)
            if not claimed:
                return sent
            if plan.audiences:
                AudienceMember.objects.bulk_create(
                    [
                        AudienceMember(
                            audience_id=audience_id,
                            lead_id=enrollment.lead_id,
                            enrollment_id=enrollment.pk,
                            added_at=now,
                        )
                        for audience_id in plan.audiences
                    ],
                    ignore_conflicts=True,
                )
            if plan.email is not None:
                sent += _send_step(
                    enrollment, plan.email, now=now, connection=connection, steps=steps
                )
        for field, value in plan.changes.items():
            setattr(enrollment, field, value)
    return sent


def _send_step(enrollment: Enrollment, step: Step, *, now, connection, steps: _Steps) -> int:
    lead = enrollment.lead
    allowed = bool(lead.email) and not lead.do_not_email and not enrollment.unsubscribed
    asset = steps.asset_for(step, enrollment.from_stage)
    subject = render_subject(step.subject, lead, asset)
    # The claim's second lock: one row per (enrollment, step), whatever happened before.
    message = Message.objects.create(
        enrollment=enrollment,
        step=step,
        lead=lead,
        status=Message.Status.SENT if allowed else Message.Status.SUPPRESSED,
        to_email=lead.email or "",
        subject=subject,
        sent_at=now,
    )
    if not allowed:
        return 0
    email = build_email(
        message_id=message.pk,
        enrollment_id=enrollment.pk,
        step=step,
        subject=subject,
        lead=lead,
        asset=asset,
        to_email=lead.email,
    )
    # The SMTP call inside the claim's transaction: see the module's docstring.
    connection.send_messages([email])
    return 1


# --- engagement ---------------------------------------------------------------------------


def tracking_record(
    *, message_id: int, kind: str, url: str = "", at: dt.datetime | None = None
) -> TrackingEvent | None:
    """Record an open or a click; the first of each (message, kind, link) is engagement."""
    at = at or timezone.now()
    message = Message.objects.filter(pk=message_id).first()
    if message is None:
        return None
    with transaction.atomic():
        seen = TrackingEvent.objects.filter(message=message, kind=kind, url=url).exists()
        event = TrackingEvent.objects.create(
            message=message, lead_id=message.lead_id, kind=kind, url=url[:500], at=at
        )
        if not seen:
            engagement_record(
                lead_id=message.lead_id,
                kind="email_opened" if kind == TrackingEvent.Kind.OPEN else "link_clicked",
                at=at,
                detail=f"nurture message {message.pk}: {message.subject}",
            )
    return event


# --- consent ------------------------------------------------------------------------------


def consent_unsubscribe(
    *, message_id: int, how: str, at: dt.datetime | None = None
) -> ConsentRecord | None:
    """Unsubscribe the message's lead from every e-mail; idempotent."""
    at = at or timezone.now()
    message = Message.objects.filter(pk=message_id).first()
    if message is None:
        return None
    with transaction.atomic():
        lead = Lead.objects.select_for_update(of=("self",)).get(pk=message.lead_id)
        existing = ConsentRecord.objects.filter(
            lead=lead, action=ConsentRecord.Action.UNSUBSCRIBED
        ).first()
        if existing is not None and lead.do_not_email:
            return existing
        record = ConsentRecord.objects.create(
            lead=lead,
            action=ConsentRecord.Action.UNSUBSCRIBED,
            how=how,
            message=message,
            at=at,
        )
        # A field, not the stage: the transition service's monopoly is on `stage`.
        Lead.objects.filter(pk=lead.pk).update(do_not_email=True, updated_at=at)
        enrollment_end(lead_id=lead.pk, status=Enrollment.Status.UNSUBSCRIBED, at=at)
    return record


# --- programmes and content ---------------------------------------------------------------


def programme_create(
    *,
    name: str,
    exits: list[str],
    reasons: list[str],
    priority: int = 100,
    is_active: bool = True,
    created_by=None,
) -> Programme:
    return Programme.objects.create(
        name=name,
        exits=list(exits),
        reasons=list(reasons),
        priority=priority,
        is_active=is_active,
        created_by=created_by,
    )


def programme_update(*, programme: Programme, **changes) -> Programme:
    for field, value in changes.items():
        setattr(programme, field, value)
    programme.save()
    return programme


def step_add(
    *,
    programme: Programme,
    kind: str,
    subject: str = "",
    body: str = "",
    asset: ContentAsset | None = None,
    wait_days: int = 0,
    audience_name: str = "",
) -> Step:
    """Append a step to the programme."""
    with transaction.atomic():
        Programme.objects.select_for_update().filter(pk=programme.pk).first()
        last = programme.steps.order_by("-position").values_list("position", flat=True).first()
        audience = None
        if kind == Step.Kind.AUDIENCE:
            audience = Audience.objects.get_or_create(name=audience_name.strip())[0]
        return Step.objects.create(
            programme=programme,
            position=0 if last is None else last + 1,
            kind=kind,
            subject=subject if kind == Step.Kind.EMAIL else "",
            body=body if kind == Step.Kind.EMAIL else "",
            asset=asset if kind == Step.Kind.EMAIL else None,
            wait_days=wait_days if kind == Step.Kind.WAIT else 0,
            audience=audience,
        )


class StepInUse(Exception):
    pass


def step_remove(*, step: Step) -> None:
    """Remove a step nobody was sent yet; a sent step stays for its history."""
    if step.messages.exists():
        raise StepInUse("This step has sent messages; it stays for their history.")
    step.delete()


def asset_create(*, created_by=None, **fields) -> ContentAsset:
    return ContentAsset.objects.create(created_by=created_by, **fields)


def asset_update(*, asset: ContentAsset, **changes) -> ContentAsset:
    for field, value in changes.items():
        setattr(asset, field, value)
    asset.save()
    return asset
