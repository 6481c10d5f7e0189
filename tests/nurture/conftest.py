import datetime as dt
import email
from email import policy

import pytest
from django.utils import timezone

from campaigns.nurture.models import Programme, Step
from campaigns.nurture.sending import messages_send_due
from campaigns.nurture.services import enrollments_queue_due, step_add
from tests.conftest import move

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def make_programme(db):
    def make(exits=("mql",), *, reasons=(), priority=100, name=None, steps=None):
        programme = Programme.objects.create(
            name=name or f"Programme for {'/'.join(exits)}",
            exits=list(exits),
            reasons=list(reasons),
            priority=priority,
        )
        if steps is None:
            steps = [
                {
                    "kind": Step.Kind.EMAIL,
                    "subject": "Hi {{ lead.first_name }}",
                    "body": "Hello {{ lead.first_name }} at {{ lead.company }}.",
                },
                {"kind": Step.Kind.AUDIENCE, "audience_name": "Warm leads"},
                {"kind": Step.Kind.WAIT, "wait_days": 3},
                {"kind": Step.Kind.EMAIL, "subject": "Still there?", "body": "Second note."},
            ]
        for step in steps:
            step_add(programme=programme, **step)
        return programme

    return make


@pytest.fixture
def to_nurture(make_lead, manager, django_capture_on_commit_callbacks):
    """A lead walked to `stage`, then sent to nurture (signals delivered as on commit)."""

    def send(stage="mql", *, at=T0, reason=None, **fields):
        fields.setdefault("first_name", "Nadia")
        fields.setdefault("company", "Globex")
        lead = make_lead(stage, **fields)
        kwargs = {"at": at}
        if reason:
            kwargs["reason"] = reason
        with django_capture_on_commit_callbacks(execute=True):
            move(lead, "nurture", manager, **kwargs)
        return lead

    return send


@pytest.fixture
def tick(django_capture_on_commit_callbacks):
    """One tick at a controlled time, its batches sent in this process (no broker)."""

    def run(now: dt.datetime) -> int:
        with django_capture_on_commit_callbacks(execute=False):
            batches = enrollments_queue_due(now=now)
        return sum(messages_send_due(enrollment_ids=batch, now=now) for batch in batches)

    return run


def parse(raw: bytes):
    return email.message_from_bytes(raw, policy=policy.default)


def header_url(message, name="List-Unsubscribe") -> str:
    return str(message[name]).strip().strip("<>")


def now():
    return timezone.now()
