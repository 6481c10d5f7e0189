"""The worker's side of nurturing: send each due e-mail step exactly once.

Exactly once per (enrollment, step): before the SMTP call the worker claims the step with
a conditional update of the enrollment (from the position it read to the next one) and
inserts the unique (enrollment, step) message row, in a transaction it commits as soon as
the server has answered 250. A crash before the 250 rolls the claim back with the
connection (the server kept nothing either, so a later attempt sends it once); a second
worker or a second beat waits on the row lock, then finds the update changes nothing.
A message whose outcome is unknown (the worker died between the 250 and the commit) is
sent again: the window is the time to write one COMMIT to the socket.

Speed (benchmarks/bench_nurture.py): on PostgreSQL one claim is one statement, and the
COMMIT of the message before travels with it, so a message costs one database round trip
(`_PgClaims`). Everything a message needs that is not a side effect (the next plan, its
subject) is worked out before the SMTP call of the one before, so nothing runs between a
250 and its COMMIT but the write of that COMMIT.
"""

import datetime as dt
import logging
import select
import smtplib
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.conf import settings
from django.core.mail import get_connection
from django.db import DatabaseError, transaction
from django.db import connection as db_connection
from django.db.models import Exists, OuterRef
from psycopg import pq

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
    try:
        # Opened here, one connection for the whole batch (send_messages alone would
        # open and close one per message).
        connection.open()
    except SMTP_ERRORS as exc:
        raise SendInterrupted(enrollment_ids, exc) from exc
    if db_connection.vendor != "postgresql":
        claims = _OrmClaims()
    elif db_connection.in_atomic_block:
        claims = _PgClaims()  # in the surrounding transaction (a test's), on its connection
    else:
        claims = _TwoConnectionClaims()
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


@dataclass
class _Claim:
    """One move of one enrollment (at most one e-mail), worked out before it is claimed."""

    index: int  # in the batch's ids: what is left to do after an SMTP error
    enrollment: Enrollment
    plan: _Plan
    now: dt.datetime
    allowed: bool = False
    asset: ContentAsset | None = None
    subject: str = ""
    error: BadTemplate | None = None
    won: bool = False
    message_id: int | None = None
    audiences: list[int] = field(default_factory=list)


def _claims_of(
    enrollment_ids: list[int], batch: dict[int, Enrollment], *, now: dt.datetime, steps: _Steps
) -> Iterator[_Claim]:
    """The batch's moves in order. The consumer sets `won` before asking for the next
    one: an enrollment goes on to its next due step only after a won claim."""
    for index, enrollment_id in enumerate(enrollment_ids):
        enrollment = batch.get(enrollment_id)
        if enrollment is None:
            continue
        while enrollment.status == Enrollment.Status.ACTIVE and enrollment.next_due_at <= now:
            plan = _plan(enrollment, now=now, steps=steps)
            claim = _Claim(index=index, enrollment=enrollment, plan=plan, now=now)
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
    claims_in_order: Iterator[_Claim],
    claims: "_PgClaims | _OrmClaims",
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


def _enrollment_row(claim: _Claim) -> dict:
    changes = claim.plan.changes
    return {
        "status": changes.get("status", Enrollment.Status.ACTIVE),
        "ended_at": changes.get("ended_at"),
        "next_position": changes["next_position"],
        "next_due_at": changes["next_due_at"],
    }


def _message_status(claim: _Claim) -> str:
    return Message.Status.SENT if claim.allowed else Message.Status.SUPPRESSED


class _PgClaims:
    """Claims as one statement each on PostgreSQL, the COMMIT of the one before in front.

    The transaction is opened and ended in SQL (BEGIN ... COMMIT, or a savepoint inside a
    surrounding atomic block such as a test's) so that one round trip can end a claim and
    open the next; Django's own transaction state is not touched.
    """

    SQL = """
        WITH claimed AS (
            UPDATE {enrollment}
            SET queued_until = NULL, failures = 0, next_position = %(next_position)s,
                next_due_at = %(next_due_at)s, status = %(status)s,
                ended_at = COALESCE(%(ended_at)s, ended_at)
            WHERE id = %(id)s AND status = %(active)s AND next_position = %(from_position)s
            RETURNING id, lead_id
        ), members AS (
            INSERT INTO {member} (audience_id, lead_id, enrollment_id, added_at)
            SELECT audience, claimed.lead_id, claimed.id, %(now)s
            FROM claimed CROSS JOIN unnest(%(audiences)s::bigint[]) AS audience
            ON CONFLICT DO NOTHING
        ), message AS (
            INSERT INTO {message}
                (enrollment_id, step_id, lead_id, status, to_email, subject, sent_at)
            SELECT claimed.id, %(step)s, claimed.lead_id, %(message_status)s, %(to_email)s,
                %(subject)s, %(now)s
            FROM claimed WHERE %(has_email)s
            RETURNING id
        )
        SELECT (SELECT count(*) FROM claimed), (SELECT id FROM message)
    """

    def __init__(self):
        self.cursor = db_connection.cursor()
        nested = db_connection.in_atomic_block
        self.begin = "SAVEPOINT nurture_claim" if nested else "BEGIN"
        self.end = "RELEASE SAVEPOINT nurture_claim" if nested else "COMMIT"
        self.undo = "ROLLBACK TO SAVEPOINT nurture_claim; " + self.end if nested else "ROLLBACK"
        self.sql = self.SQL.format(
            enrollment=Enrollment._meta.db_table,
            member=AudienceMember._meta.db_table,
            message=Message._meta.db_table,
        )
        self.open = False

    def _params(self, claim: _Claim) -> dict:
        email = claim.plan.email
        lead = claim.enrollment.lead
        return {
            **_enrollment_row(claim),
            "id": claim.enrollment.pk,
            "active": Enrollment.Status.ACTIVE,
            "from_position": claim.enrollment.next_position,
            "now": claim.now,
            "audiences": claim.plan.audiences,
            "has_email": email is not None,
            "step": email.pk if email is not None else None,
            "message_status": _message_status(claim),
            "to_email": lead.email or "",
            "subject": claim.subject,
        }

    def claim(self, claim: _Claim) -> bool:
        params = self._params(claim)
        statements = [self.end] if self.open else []
        statements += [self.begin, self.sql]
        self.open = True  # from here on whatever happens is undone by rollback()
        self.cursor.execute("; ".join(statements), params)
        while self.cursor.nextset():
            pass
        claimed, message_id = self.cursor.fetchone()
        claim.message_id = message_id
        return bool(claimed)

    def commit(self) -> None:
        if self.open:
            self.open = False
            self.cursor.execute(self.end)

    def rollback(self) -> None:
        if self.open:
            self.open = False
            self.cursor.execute(self.undo)

    def close(self) -> None:
        pass


class _TwoConnectionClaims(_PgClaims):
    """The worker's claims: two connections of its own, taking turns.

    After a 250 the COMMIT is written at once to the claim's connection, but not waited
    for: the next claim goes on the other connection while the first one's COMMIT waits
    for its WAL flush. A crash after the write loses nothing (the server reads and runs a
    COMMIT it has received, as it does when a worker dies waiting for one); a claim of
    the same enrollment on the other connection waits for the row lock, then sees it.
    """

    def __init__(self):
        params = db_connection.get_connection_params()
        self.connections = [db_connection.get_new_connection(params) for _ in range(2)]
        for connection in self.connections:
            connection.autocommit = True
        self.sql = "BEGIN; " + self.SQL.format(
            enrollment=Enrollment._meta.db_table,
            member=AudienceMember._meta.db_table,
            message=Message._meta.db_table,
        )
        self.turn = 0
        self.current = None  # the connection whose claim is open
        self.committing: list = []  # connections with a COMMIT in flight

    @property
    def open(self) -> bool:
        return self.current is not None

    def claim(self, claim: _Claim) -> bool:
        self.commit()
        connection = self.connections[self.turn]
        self.turn = 1 - self.turn
        self._settle(connection)
        self.current = connection
        with connection.cursor() as cursor:
            cursor.execute(self.sql, self._params(claim))
            while cursor.nextset():
                pass
            claimed, claim.message_id = cursor.fetchone()
        return bool(claimed)

    def commit(self) -> None:
        if self.current is None:
            return
        connection, self.current = self.current, None
        pgconn = connection.pgconn
        pgconn.send_query(b"COMMIT")
        while pgconn.flush():  # non-blocking: wait until the socket took all of it
            select.select([], [pgconn.socket], [])
        self.committing.append(connection)

    def _settle(self, connection) -> None:
        """Read the result of the COMMIT in flight on `connection`, if any."""
        if connection not in self.committing:
            return
        self.committing.remove(connection)
        results = []
        while (result := connection.pgconn.get_result()) is not None:
            results.append(result)
        if not results or results[-1].status != pq.ExecStatus.COMMAND_OK:
            error = results[-1].error_message.decode(errors="replace") if results else "none"
            raise DatabaseError(f"a claim's COMMIT failed: {error}")

    def rollback(self) -> None:
        if self.current is not None:
            connection, self.current = self.current, None
            connection.execute("ROLLBACK")

    def close(self) -> None:
        try:
            for connection in list(self.committing):
                self._settle(connection)
        finally:
            for connection in self.connections:
                connection.close()


class _OrmClaims:
    """The same claims through the ORM, one atomic block each (SQLite in development)."""

    def __init__(self):
        self.atomic = None

    def claim(self, claim: _Claim) -> bool:
        self.commit()
        self.atomic = transaction.atomic()
        self.atomic.__enter__()
        enrollment = claim.enrollment
        claimed = Enrollment.objects.filter(
            pk=enrollment.pk,
            status=Enrollment.Status.ACTIVE,
            next_position=enrollment.next_position,
        ).update(queued_until=None, failures=0, **claim.plan.changes)
        if not claimed:
            return False
        if claim.plan.audiences:
            AudienceMember.objects.bulk_create(
                [
                    AudienceMember(
                        audience_id=audience_id,
                        lead_id=enrollment.lead_id,
                        enrollment_id=enrollment.pk,
                        added_at=claim.now,
                    )
                    for audience_id in claim.plan.audiences
                ],
                ignore_conflicts=True,
            )
        if claim.plan.email is not None:
            claim.message_id = Message.objects.create(
                enrollment=enrollment,
                step=claim.plan.email,
                lead=enrollment.lead,
                status=_message_status(claim),
                to_email=enrollment.lead.email or "",
                subject=claim.subject,
                sent_at=claim.now,
            ).pk
        return True

    def commit(self) -> None:
        if self.atomic is not None:
            atomic, self.atomic = self.atomic, None
            atomic.__exit__(None, None, None)

    def rollback(self) -> None:
        if self.atomic is not None:
            atomic, self.atomic = self.atomic, None
            error = RuntimeError("claim undone")
            atomic.__exit__(RuntimeError, error, None)

    def close(self) -> None:
        pass
