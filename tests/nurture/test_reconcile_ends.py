"""The reconciler ends enrollments whose lead left nurture when the move's on-commit end was
lost, as the reaction would have ended them: otherwise the programme goes on e-mailing a
lead that a rep is working, or that was junked."""

import datetime as dt

import pytest
from django.utils import timezone

from campaigns.nurture.models import Enrollment
from campaigns.nurture.services import enrollment_ends_reconcile
from campaigns.nurture.tasks import reconcile
from tests.conftest import move

from .test_reconcile import LATER, react, reaction_lost

pytestmark = pytest.mark.django_db


@pytest.fixture
def enrolled(make_programme, to_nurture):
    make_programme(["mql"])
    lead = to_nurture(at=timezone.now())
    assert Enrollment.objects.get(lead=lead).status == "active"
    return lead


def left(lead, to, actor, **kwargs):
    """The lead leaves nurture; nurture never hears of it."""
    with reaction_lost():
        return move(lead, to, actor, **kwargs)


@pytest.mark.parametrize(("to", "status"), [("mql", "recycled"), ("junk", "junked")])
def test_it_ends_the_enrollment_as_the_reaction_would_have(enrolled, marketer, to, status):
    row = left(enrolled, to, marketer)
    assert Enrollment.objects.get(lead=enrolled).status == "active"  # still e-mailing

    assert reconcile(now=(row.at + LATER).isoformat()) == 1

    enrollment = Enrollment.objects.get(lead=enrolled)
    assert (enrollment.status, enrollment.ended_at) == (status, row.at)
    assert (enrollment.next_due_at, enrollment.queued_until) == (None, None)
    assert enrollment_ends_reconcile(now=row.at + LATER) == 0


def test_it_leaves_a_move_within_the_grace_period_to_its_reaction(enrolled, marketer):
    row = left(enrolled, "mql", marketer)
    assert enrollment_ends_reconcile(now=row.at + dt.timedelta(seconds=30)) == 0
    assert Enrollment.objects.get(lead=enrolled).status == "active"
    assert enrollment_ends_reconcile(now=row.at + dt.timedelta(seconds=121)) == 1


def test_it_leaves_enrollments_of_leads_still_in_nurture(enrolled, make_programme, to_nurture):
    other = to_nurture(at=timezone.now())
    assert enrollment_ends_reconcile(now=timezone.now() + LATER) == 0
    assert set(Enrollment.objects.values_list("lead_id", "status")) == {
        (enrolled.pk, "active"),
        (other.pk, "active"),
    }


def test_a_lead_that_left_and_came_back_ends_its_old_stay_and_starts_the_new_one(
    enrolled, marketer, manager
):
    first = Enrollment.objects.get(lead=enrolled)
    out = left(enrolled, "mql", marketer)
    back = left(enrolled, "nurture", manager, reason="not_ready_yet")

    assert reconcile(now=(back.at + LATER).isoformat()) == 2

    stays = Enrollment.objects.filter(lead=enrolled).order_by("enrolled_at")
    assert [(e.pk, e.status, e.enrolled_at, e.ended_at) for e in stays] == [
        (first.pk, "recycled", first.enrolled_at, out.at),
        (stays[1].pk, "active", back.at, None),
    ]


def test_a_late_reaction_after_the_reconciler_changes_nothing(enrolled, marketer):
    row = left(enrolled, "junk", marketer)
    assert enrollment_ends_reconcile(now=row.at + LATER) == 1
    before = list(Enrollment.objects.values())
    react(row)
    assert list(Enrollment.objects.values()) == before


def test_it_ends_at_most_its_limit_per_run_oldest_first(make_programme, to_nurture, marketer):
    make_programme(["mql"])
    leads = [to_nurture(at=timezone.now()) for _ in range(3)]
    for lead in leads:
        left(lead, "mql", marketer)
    now = timezone.now() + LATER
    assert enrollment_ends_reconcile(now=now, limit=2) == 2
    ended = set(Enrollment.objects.exclude(status="active").values_list("lead_id", flat=True))
    assert ended == {leads[0].pk, leads[1].pk}
    assert enrollment_ends_reconcile(now=now, limit=2) == 1
