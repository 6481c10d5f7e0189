"""The worker's side of nurturing: send each due e-mail step exactly once.

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
from django.db.models import Exists, OuterRef

from .mailing import BadTemplate, build_email, render_subject
from .models import (
    AIDA_OF_EXIT,
    AudienceMember,
    ConsentRecord,
    ContentAsset,
    Enrollment,
    Message,
    Step,
)

log = logging.getLogger(__name__)

# What a worker retries with backoff: the server said "later", or the line dropped.
SMTP_ERRORS = (smtplib.SMTPException, OSError)


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
