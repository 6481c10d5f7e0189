"""Claiming a nurture step: the conditional update of the enrollment, the audience rows and
the unique (enrollment, step) message row, in a transaction that `sending` ends right
after the SMTP server's 250.

Three ways to hold those transactions, one interface (claim, commit, rollback, close):
- `TwoConnectionClaims`, the worker's on PostgreSQL: one statement per claim on two
  connections of its own taking turns, each COMMIT written at once and read later;
- `PgClaims`, on PostgreSQL inside a surrounding transaction (a test's): the same
  statement, savepoints, the COMMIT in front of the next claim;
- `OrmClaims`, through the ORM (SQLite in development).
"""

import datetime as dt
import re
import select
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import DatabaseError, transaction
from django.db import connection as db_connection
from psycopg import pq

from .mailing import BadTemplate
from .models import AudienceMember, ContentAsset, Enrollment, Message, Step

if TYPE_CHECKING:
    from .sending import DueEnrollment


@dataclass
class Plan:
    """What running an enrollment's due steps up to its next e-mail will change."""

    changes: dict
    audiences: list[int]
    email: Step | None


@dataclass
class Claim:
    """One move of one enrollment (at most one e-mail), worked out before it is claimed."""

    index: int  # in the batch's ids: what is left to do after an SMTP error
    enrollment: "DueEnrollment"
    plan: Plan
    now: dt.datetime
    allowed: bool = False
    asset: ContentAsset | None = None
    subject: str = ""
    error: BadTemplate | None = None
    won: bool = False
    message_id: int | None = None


def _enrollment_row(claim: Claim) -> dict:
    changes = claim.plan.changes
    return {
        "status": changes.get("status", Enrollment.Status.ACTIVE),
        "ended_at": changes.get("ended_at"),
        "next_position": changes["next_position"],
        "next_due_at": changes["next_due_at"],
    }


def _message_status(claim: Claim) -> str:
    return Message.Status.SENT if claim.allowed else Message.Status.SUPPRESSED


class PgClaims:
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
            WHERE id = %(id)s AND status = '{active}' AND next_position = %(from_position)s
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
            FROM claimed WHERE %(step)s IS NOT NULL
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
            active=Enrollment.Status.ACTIVE.value,
        )
        self.open = False

    def _params(self, claim: Claim) -> dict:
        email = claim.plan.email
        lead = claim.enrollment.lead
        return {
            **_enrollment_row(claim),
            "id": claim.enrollment.pk,
            "from_position": claim.enrollment.next_position,
            "now": claim.now,
            "audiences": claim.plan.audiences,
            "step": email.pk if email is not None else None,
            "message_status": _message_status(claim),
            "to_email": lead.email or "",
            "subject": claim.subject,
        }

    def claim(self, claim: Claim) -> bool:
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


# The claim's parameters as the prepared statement declares them.
_PARAMETER_TYPES = {
    "next_position": "integer",
    "next_due_at": "timestamptz",
    "status": "varchar",
    "ended_at": "timestamptz",
    "id": "bigint",
    "from_position": "integer",
    "now": "timestamptz",
    "audiences": "bigint[]",
    "step": "bigint",
    "message_status": "varchar",
    "to_email": "varchar",
    "subject": "varchar",
}


def _prepared(sql: str) -> tuple[str, str]:
    """PREPARE for `sql`'s %(name)s parameters, and the BEGIN + EXECUTE that runs it."""
    names = list(dict.fromkeys(re.findall(r"%\((\w+)\)s", sql)))
    numbered = re.sub(r"%\((\w+)\)s", lambda match: f"${names.index(match[1]) + 1}", sql)
    types = ", ".join(_PARAMETER_TYPES[name] for name in names)
    prepare = f"PREPARE nurture_claim ({types}) AS {numbered}"
    arguments = ", ".join(f"%({name})s" for name in names)
    return prepare, f"BEGIN; EXECUTE nurture_claim ({arguments})"


class TwoConnectionClaims(PgClaims):
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
        # Prepared once per connection: the server parses and plans the claim once, not
        # for each of a batch's messages (its CPU is the workers' and the SMTP server's).
        prepare, self.sql = _prepared(
            self.SQL.format(
                enrollment=Enrollment._meta.db_table,
                member=AudienceMember._meta.db_table,
                message=Message._meta.db_table,
                active=Enrollment.Status.ACTIVE.value,
            )
        )
        for connection in self.connections:
            connection.autocommit = True
            connection.execute(prepare)
        self.cursors = {id(connection): connection.cursor() for connection in self.connections}
        self.turn = 0
        self.current = None  # the connection whose claim is open
        self.committing: list = []  # connections with a COMMIT in flight

    @property
    def open(self) -> bool:
        return self.current is not None

    def claim(self, claim: Claim) -> bool:
        self.commit()
        connection = self.connections[self.turn]
        self.turn = 1 - self.turn
        self._settle(connection)
        self.current = connection
        cursor = self.cursors[id(connection)]
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


class OrmClaims:
    """The same claims through the ORM, one atomic block each (SQLite in development)."""

    def __init__(self):
        self.atomic = None

    def claim(self, claim: Claim) -> bool:
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
                enrollment_id=enrollment.pk,
                step=claim.plan.email,
                lead_id=enrollment.lead_id,
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
