"""Concurrent moves on PostgreSQL: the row lock gives one winner and clear conflicts."""

import threading

import pytest
from django.db import connection

from funnel.errors import TransitionError
from funnel.models import Transition
from funnel.services import transition_lead

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _race(lead_id, moves):
    """Run every (actor, to, kwargs) at once from its own thread and connection."""
    barrier = threading.Barrier(len(moves))
    outcomes = [None] * len(moves)

    def attempt(index, actor, to, kwargs):
        try:
            barrier.wait(timeout=30)
            transition_lead(lead_id=lead_id, to=to, actor=actor, expected_from="mql", **kwargs)
            outcomes[index] = ("ok", to)
        except TransitionError as exc:
            outcomes[index] = (exc.status, exc.code)
        except Exception as exc:
            outcomes[index] = ("error", repr(exc))
        finally:
            connection.close()

    threads = [
        threading.Thread(target=attempt, args=(i, actor, to, kwargs))
        for i, (actor, to, kwargs) in enumerate(moves)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def test_fifty_reps_accepting_one_mql_give_one_acceptance(make_lead, make_user):
    lead = make_lead("mql")
    reps = [make_user(f"racer{i}", "sales_rep") for i in range(50)]
    outcomes = _race(lead.pk, [(rep, "sal", {}) for rep in reps])
    assert outcomes.count(("ok", "sal")) == 1
    assert outcomes.count((409, "stale_transition")) == 49
    assert Transition.objects.filter(lead=lead, to_stage="sal").count() == 1
    lead.refresh_from_db()
    winner = Transition.objects.get(lead=lead, to_stage="sal").actor
    assert (lead.stage, lead.owner) == ("sal", winner)


def test_accept_racing_reject_leaves_exactly_one_decision(make_lead, make_user):
    lead = make_lead("mql")
    moves = []
    for i in range(50):
        rep = make_user(f"racer{i}", "sales_rep")
        if i % 2:
            moves.append((rep, "sal", {}))
        else:
            moves.append((rep, "nurture", {"reason": "no_budget"}))
    outcomes = _race(lead.pk, moves)
    wins = [o for o in outcomes if o[0] == "ok"]
    assert len(wins) == 1
    assert [o for o in outcomes if o != (409, "stale_transition")] == wins
    decisions = Transition.objects.filter(lead=lead, from_stage="mql")
    assert decisions.count() == 1
    lead.refresh_from_db()
    assert lead.stage == wins[0][1] == decisions.get().to_stage


def test_two_creations_of_one_email_give_one_lead_and_one_conflict(make_user):
    from funnel.services import lead_create
    from leads.models import Lead
    from leads.services import DuplicateLead

    marketer = make_user("m", "marketer")
    barrier = threading.Barrier(8)
    outcomes = []

    def create():
        try:
            barrier.wait(timeout=30)
            lead_create(actor=marketer, fields={"email": "same@example.com"})
            outcomes.append("created")
        except DuplicateLead as exc:
            outcomes.append(("duplicate", exc.existing.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    lead = Lead.objects.get()
    assert outcomes.count("created") == 1
    assert outcomes.count(("duplicate", lead.pk)) == 7
    assert Transition.objects.filter(lead=lead).count() == 1


def test_a_move_that_waited_on_the_lock_is_logged_after_the_move_it_waited_for(make_lead, manager):
    """The soak's invariant, the lead's stage is its last log row by (at, id): a move stamped
    before it queued on the lead's lock would sort before the move that held the lock."""
    from django.db import transaction

    from leads.models import Lead
    from tests.conftest import VERB_FIELDS
    from tests.services import wait_for

    lead = make_lead("mql")
    outcome = []

    def qualify_without_from():
        try:
            transition_lead(lead_id=lead.pk, to="sql", actor=manager, fields=VERB_FIELDS["qualify"])
            outcome.append("ok")
        except Exception as exc:
            outcome.append(repr(exc))
        finally:
            connection.close()

    waiting = threading.Thread(target=qualify_without_from)
    with transaction.atomic():
        Lead.objects.select_for_update().get(pk=lead.pk)
        waiting.start()

        def blocked() -> bool:
            with connection.cursor() as cursor:
                # Activity is a snapshot per transaction, and this one stays open.
                cursor.execute("SELECT pg_stat_clear_snapshot()")
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE wait_event_type = 'Lock' AND datname = current_database()"
                )
                return cursor.fetchone()[0] > 0

        wait_for(blocked, timeout=60, message="the second move to wait on the lead's lock")
        transition_lead(lead_id=lead.pk, to="sal", actor=manager, expected_from="mql")
    waiting.join(timeout=60)

    assert outcome == ["ok"]
    lead.refresh_from_db()
    log = list(Transition.objects.filter(lead=lead).order_by("at", "id"))
    assert [row.to_stage for row in log] == ["suspect", "mql", "sal", "sql"]
    assert log[-1].to_stage == lead.stage
