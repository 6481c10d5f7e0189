"""The worker's side of nurturing: send each due e-mail step exactly once.

Exactly once per (enrollment, step): before the SMTP call the worker claims the step with
a conditional update of the enrollment (from the position it read to the next one) and
inserts the unique (enrollment, step) message row, in a transaction it commits as soon as
the server has answered 250. A crash before the 250 rolls the claim back with the
connection (the server kept nothing either, so a later attempt sends it once); a second
worker or a second beat waits on the row lock, then finds the update changes nothing.
A message whose outcome is unknown (the worker died between the 250 and the commit) is
sent again: the window is the time to write one COMMIT to the socket.

Speed (benchmarks/bench_nurture.py): a claim is one statement (see `claims`). Everything a
message needs that is not a side effect (the next plan, its subject) is worked out before
the SMTP call of the one before, so nothing runs between a 250 and the write of its
COMMIT.
"""

import datetime as dt
import logging
import smtplib
from collections.abc import Iterator
from dataclasses import dataclass
from types import SimpleNamespace

from django.conf import settings
from django.core.mail import get_connection
from django.db import connection as db_connection
from django.db.models import Exists, OuterRef

from .claims import Claim, OrmClaims, PgClaims, Plan, TwoConnectionClaims
from .mailing import LEAD_FIELDS, BadTemplate, build_email, render_subject
from .models import (
    AIDA_OF_EXIT,
    ConsentRecord,
    ContentAsset,
    Enrollment,
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
    try:
        # Opened here, one connection for the whole batch (send_messages alone would
        # open and close one per message).
        connection.open()
    except SMTP_ERRORS as exc:
        raise SendInterrupted(enrollment_ids, exc) from exc
    if db_connection.vendor != "postgresql":
        claims = OrmClaims()
    elif db_connection.in_atomic_block:
        claims = PgClaims()  # in the surrounding transaction (a test's), on its connection
    else:
        claims = TwoConnectionClaims()
    try:
        return _send(
            _claims_of(enrollment_ids, batch, now=now, steps=steps),
            claims,
            connection=connection,
            enrollment_ids=enrollment_ids,
            now=now,
        )
    finally:
        # Only after an exception is a claim still open here: its message was not sent.
        claims.rollback()
        claims.close()
        try:
            connection.close()
        except SMTP_ERRORS:
            log.warning("closing the SMTP connection failed", exc_info=True)


@dataclass(slots=True)
class DueEnrollment:
    """What sending reads of an enrollment and its lead: plain values, one query a batch
    (model instances cost a worker more CPU to build than the claim costs to send)."""

    pk: int
    lead_id: int
    programme_id: int
    from_stage: str
    status: str
    next_position: int
    next_due_at: dt.datetime | None
    ended_at: dt.datetime | None
    unsubscribed: bool
    lead: SimpleNamespace  # LEAD_FIELDS and do_not_email


_LEAD_COLUMNS = tuple(f"lead__{field}" for field in (*LEAD_FIELDS, "do_not_email"))


def _due_enrollments(enrollment_ids: list[int], now: dt.datetime) -> list[DueEnrollment]:
    unsubscribed = ConsentRecord.objects.filter(
        lead_id=OuterRef("lead_id"), action=ConsentRecord.Action.UNSUBSCRIBED
    )
    # By primary key alone, state checked here: many enrollments share a due time (a bulk
    # enrollment), and a plan through the due-time index would visit all of them.
    rows = (
        Enrollment.objects.filter(pk__in=enrollment_ids)
        .annotate(unsubscribed=Exists(unsubscribed))
        .order_by()
        .values_list(
            "pk",
            "lead_id",
            "programme_id",
            "from_stage",
            "status",
            "next_position",
            "next_due_at",
            "ended_at",
            "unsubscribed",
            *_LEAD_COLUMNS,
        )
    )
    lead_names = (*LEAD_FIELDS, "do_not_email")
    return [
        DueEnrollment(*row[:9], SimpleNamespace(**dict(zip(lead_names, row[9:], strict=True))))
        for row in rows
        if row[4] == Enrollment.Status.ACTIVE and row[6] is not None and row[6] <= now
    ]


def enrollment_failed(*, enrollment_id: int, error: BaseException, at: dt.datetime) -> None:
    """Count a failed attempt; past the limit the enrollment stops, visibly."""
    failures = Enrollment.objects.filter(pk=enrollment_id).values_list("failures", flat=True)
    count = (failures.first() or 0) + 1
    changes = {"failures": count, "last_error": f"{type(error).__name__}: {error}"[:255]}
    if count >= settings.HANDOFF_NURTURE_MAX_FAILURES:
        changes.update(status=Enrollment.Status.FAILED, ended_at=at, next_due_at=None)
    Enrollment.objects.filter(pk=enrollment_id, status=Enrollment.Status.ACTIVE).update(**changes)


def _plan(enrollment: DueEnrollment, *, now: dt.datetime, steps: _Steps) -> Plan:
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
            return Plan(changes, audiences, email)
        if step.kind == Step.Kind.EMAIL and email is not None:
            return Plan({"next_position": step.position, "next_due_at": now}, audiences, email)
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
            return Plan(changes, audiences, email)


def _claims_of(
    enrollment_ids: list[int], batch: dict[int, DueEnrollment], *, now: dt.datetime, steps: _Steps
) -> Iterator[Claim]:
    """The batch's moves in order. The consumer sets `won` before asking for the next
    one: an enrollment goes on to its next due step only after a won claim."""
    for index, enrollment_id in enumerate(enrollment_ids):
        enrollment = batch.get(enrollment_id)
        if enrollment is None:
            continue
        while enrollment.status == Enrollment.Status.ACTIVE and enrollment.next_due_at <= now:
            plan = _plan(enrollment, now=now, steps=steps)
            claim = Claim(index=index, enrollment=enrollment, plan=plan, now=now)
            if plan.email is not None:
                lead = enrollment.lead
                claim.allowed = (
                    bool(lead.email) and not lead.do_not_email and not enrollment.unsubscribed
                )
                claim.asset = steps.asset_for(plan.email, enrollment.from_stage)
                try:
                    claim.subject = render_subject(plan.email.subject, lead, claim.asset)
                except BadTemplate as exc:
                    claim.error = exc
            yield claim
            if not claim.won:
                break
            for name, value in plan.changes.items():
                setattr(enrollment, name, value)


def _send(
    claims_in_order: Iterator[Claim],
    claims: "TwoConnectionClaims | PgClaims | OrmClaims",
    *,
    connection,
    enrollment_ids: list[int],
    now: dt.datetime,
) -> int:
    sent = 0
    current = next(claims_in_order, None)
    while current is not None:
        email = None
        if current.error is None:
            # Commits the claim before, if any, in the same round trip.
            current.won = claims.claim(current)
        else:
            # A retry would not fix the template; the marketer sees the error.
            claims.commit()
            enrollment_failed(enrollment_id=current.enrollment.pk, error=current.error, at=now)
        if current.won and current.allowed:
            try:
                email = build_email(
                    message_id=current.message_id,
                    enrollment_id=current.enrollment.pk,
                    step=current.plan.email,
                    subject=current.subject,
                    lead=current.enrollment.lead,
                    asset=current.asset,
                    to_email=current.enrollment.lead.email,
                )
            except BadTemplate as exc:
                claims.rollback()
                current.won = False
                enrollment_failed(enrollment_id=current.enrollment.pk, error=exc, at=now)
        # Worked out before the SMTP call, so that after the 250 the next thing the worker
        # does is write the COMMIT (with the next claim).
        following = next(claims_in_order, None)
        if email is not None:
            try:
                connection.send_messages([email])
            except SMTP_ERRORS as exc:
                claims.rollback()
                enrollment_failed(enrollment_id=current.enrollment.pk, error=exc, at=now)
                raise SendInterrupted(enrollment_ids[current.index :], exc) from exc
            sent += 1
        current = following
    claims.commit()
    return sent
