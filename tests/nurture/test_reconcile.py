"""The reconciler: leads left in nurture without an enrollment (the move's on-commit reaction
was lost) are enrolled as the reaction would have enrolled them, once per stay."""

import datetime as dt
import logging
import threading
from contextlib import contextmanager

import pytest
from django.db import connection
from django.utils import timezone

from campaigns.nurture.models import Enrollment, Programme
from campaigns.nurture.receivers import on_stage_changed
from campaigns.nurture.services import enrollments_reconcile
from campaigns.nurture.tasks import reconcile
from config.celery import app
from funnel.models import Transition
from funnel.services import stage_changed_arguments
from funnel.signals import stage_changed
from leads.models import Lead
from tests.conftest import move

LATER = dt.timedelta(minutes=5)  # past the grace period of a move made just now
RECEIVER = "nurture.on_stage_changed"


@contextmanager
def reaction_lost():
    """Moves made inside commit and announce as usual, but nurture never hears of them: the
    process died after the commit, or the reaction raised."""
    stage_changed.disconnect(dispatch_uid=RECEIVER)
    try:
        yield
    finally:
        stage_changed.connect(on_stage_changed, dispatch_uid=RECEIVER)


@pytest.fixture
def lost(make_lead, manager, django_capture_on_commit_callbacks):
    """A lead walked to `stage` and moved to nurture; its enrollment reaction lost."""

    def send(stage="mql", **kwargs):
        lead = make_lead(stage)
        with reaction_lost(), django_capture_on_commit_callbacks(execute=True):
            row = move(lead, "nurture", manager, **kwargs)
        return lead, row

    return send


def react(row: Transition) -> None:
    """The nurture reaction to `row`, with the arguments `funnel.services` announces."""
    on_stage_changed(sender=Transition, **stage_changed_arguments(row))


@pytest.mark.django_db
class TestReconcile:
    def test_it_enrolls_as_the_reaction_would_have_and_only_once(
        self, make_programme, to_nurture, lost, caplog
    ):
        make_programme(["mql"], reasons=["no_budget"], priority=1, name="Budget")
        make_programme(["mql"], priority=2, name="Anything")
        make_programme(["sal"], priority=3, name="SALs")
        at = timezone.now()
        cases = [("mql", "no_budget"), ("mql", "not_ready_yet"), ("sal", "no_budget")]
        pairs = []
        for stage, reason in cases:
            reacted = to_nurture(stage, at=at, reason=reason)
            lead, row = lost(stage, at=at, reason=reason)
            pairs.append((Enrollment.objects.get(lead=reacted), lead, row))
        assert not Enrollment.objects.filter(lead__in=[lead for _, lead, _ in pairs]).exists()

        with caplog.at_level(logging.INFO, logger="campaigns.nurture.tasks"):
            assert reconcile(now=(at + LATER).isoformat()) == 3
        assert "reconciled 3 leads" in caplog.text
        fields = ("programme_id", "status", "from_stage", "reason", "enrolled_at", "next_due_at")
        for expected, lead, row in pairs:
            enrollment = Enrollment.objects.get(lead=lead)
            assert [getattr(enrollment, f) for f in fields] == [
                getattr(expected, f) for f in fields
            ]
            assert (enrollment.from_stage, enrollment.reason) == (row.from_stage, row.reason.code)
            assert enrollment.enrolled_at == row.at

        before = list(Enrollment.objects.order_by("id").values())
        assert enrollments_reconcile(now=at + LATER) == 0
        assert list(Enrollment.objects.order_by("id").values()) == before

    def test_it_leaves_a_move_within_the_grace_period_to_its_reaction(self, make_programme, lost):
        make_programme(["mql"])
        lead, row = lost()
        assert enrollments_reconcile(now=row.at + dt.timedelta(seconds=30)) == 0
        assert enrollments_reconcile(now=row.at + dt.timedelta(seconds=30), grace=LATER) == 0
        assert not Enrollment.objects.filter(lead=lead).exists()
        assert enrollments_reconcile(now=row.at + dt.timedelta(seconds=121)) == 1

    def test_it_leaves_a_move_older_than_the_window(self, make_programme, lost):
        make_programme(["mql"])
        lead, row = lost()
        assert enrollments_reconcile(now=row.at + dt.timedelta(days=7, seconds=1)) == 0
        assert enrollments_reconcile(now=row.at + dt.timedelta(days=3), window=LATER) == 0
        assert not Enrollment.objects.filter(lead=lead).exists()

    def test_it_leaves_a_lead_already_enrolled(self, make_programme, to_nurture):
        make_programme(["mql"])
        lead = to_nurture(at=timezone.now())
        enrollment = Enrollment.objects.get(lead=lead)
        assert enrollments_reconcile(now=timezone.now() + LATER) == 0
        assert list(Enrollment.objects.filter(lead=lead)) == [enrollment]

    def test_it_leaves_an_enrollment_that_ended_during_the_stay(self, make_programme, to_nurture):
        make_programme(["mql"])
        lead = to_nurture(at=timezone.now())
        Enrollment.objects.filter(lead=lead).update(status=Enrollment.Status.COMPLETED)
        assert enrollments_reconcile(now=timezone.now() + LATER) == 0
        assert Enrollment.objects.filter(lead=lead).count() == 1

    def test_it_leaves_a_lead_that_left_nurture(self, make_programme, lost, marketer):
        make_programme(["mql"])
        lead, _ = lost()
        with reaction_lost():
            move(lead, "mql", marketer)
        assert enrollments_reconcile(now=timezone.now() + LATER) == 0
        assert not Enrollment.objects.filter(lead=lead).exists()

    def test_it_enrolls_the_latest_stay_when_an_earlier_one_was_enrolled(
        self, make_programme, to_nurture, manager, marketer, django_capture_on_commit_callbacks
    ):
        make_programme(["mql"])
        start = timezone.now() + dt.timedelta(minutes=1)  # after the walk to mql
        lead = to_nurture(at=start)
        with django_capture_on_commit_callbacks(execute=True):
            move(lead, "mql", marketer, at=start + dt.timedelta(seconds=1))
        with reaction_lost(), django_capture_on_commit_callbacks(execute=True):
            row = move(lead, "nurture", manager, at=start + dt.timedelta(seconds=2))
        assert enrollments_reconcile(now=row.at + LATER) == 1
        statuses = Enrollment.objects.filter(lead=lead).order_by("enrolled_at")
        assert [(e.status, e.enrolled_at) for e in statuses] == [
            ("recycled", start),
            ("active", row.at),
        ]

    def test_it_gives_nothing_where_no_programme_matches(self, make_programme, lost):
        lead, row = lost()
        assert enrollments_reconcile(now=row.at + LATER) == 0  # no programme at all
        make_programme(["opportunity"])
        make_programme(["mql"], reasons=["competitor"])
        paused = make_programme(["mql"], name="Paused")
        Programme.objects.filter(pk=paused.pk).update(is_active=False)
        assert enrollments_reconcile(now=row.at + LATER) == 0
        assert not Enrollment.objects.filter(lead=lead).exists()

    def test_it_leaves_an_imported_move_into_nurture(self, make_programme, make_lead):
        # An import writes history and never enrolls (funnel.imports): neither does this.
        make_programme(["mql"])
        lead = make_lead("mql")
        at = timezone.now()
        Lead.objects.filter(pk=lead.pk).update(stage="nurture", stage_changed_at=at)
        Transition.objects.create(
            lead=lead, from_stage="mql", to_stage="nurture", verb="import", at=at
        )
        assert enrollments_reconcile(now=at + LATER) == 0

    def test_it_enrolls_at_most_its_limit_per_run_oldest_first(self, make_programme, lost):
        make_programme(["mql"])
        rows = [lost()[1] for _ in range(3)]
        now = timezone.now() + LATER
        assert enrollments_reconcile(now=now, limit=2) == 2
        enrolled = set(Enrollment.objects.values_list("lead_id", flat=True))
        assert enrolled == {rows[0].lead_id, rows[1].lead_id}
        assert enrollments_reconcile(now=now, limit=2) == 1

    def test_a_run_with_nothing_to_repair_is_two_queries(
        self, make_programme, to_nurture, django_assert_num_queries
    ):
        make_programme(["mql"])
        for _ in range(5):
            to_nurture(at=timezone.now())
        with django_assert_num_queries(2):  # the programmes, the candidates
            assert enrollments_reconcile(now=timezone.now() + LATER) == 0

    def test_a_reaction_after_the_reconciler_enrolls_nobody_twice(self, make_programme, lost):
        make_programme(["mql"])
        lead, row = lost()
        assert enrollments_reconcile(now=row.at + LATER) == 1
        enrollment = Enrollment.objects.get(lead=lead)
        react(row)  # the reaction was late, not lost
        assert list(Enrollment.objects.filter(lead=lead)) == [enrollment]
        assert Enrollment.objects.get(lead=lead).status == "active"


def test_beat_reconciles_every_five_minutes_by_default():
    entry = app.conf.beat_schedule["nurture-reconcile"]
    assert entry["task"] == "nurture.reconcile"
    assert entry["schedule"] == 300.0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_reaction_and_the_reconciler_racing_enroll_each_stay_once(make_programme, lost, caplog):
    make_programme(["mql"])
    rows = [lost()[1] for _ in range(12)]
    now = timezone.now() + LATER
    errors, repaired = [], []
    barrier = threading.Barrier(2)

    def reactions():
        try:
            barrier.wait(timeout=10)
            for row in rows:
                react(row)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    def reconciler():
        try:
            barrier.wait(timeout=10)
            repaired.append(enrollments_reconcile(now=now))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    with caplog.at_level(logging.ERROR, logger="campaigns.nurture.receivers"):
        threads = [threading.Thread(target=reactions), threading.Thread(target=reconciler)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert not errors
    assert not caplog.records  # no reaction failed (a deadlock, a unique violation)
    per_lead = {row.lead_id: Enrollment.objects.filter(lead_id=row.lead_id) for row in rows}
    assert {lead_id: qs.count() for lead_id, qs in per_lead.items()} == {
        row.lead_id: 1 for row in rows
    }
    assert set(Enrollment.objects.values_list("status", "enrolled_at")) == {
        ("active", row.at) for row in rows
    }
    assert 0 <= repaired[0] <= len(rows)
