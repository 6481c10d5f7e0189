"""A worker SIGKILLed in the middle of a rollup refresh or a rescoring: the next run (the
outbox's sweep sends the message again after its lease) finishes it, once.

Import batches and nurture sends are covered by tests/imports/test_worker.py and
tests/nurture/test_worker.py. Here another connection holds the row lock of one lead in
the middle, so the worker commits the work before it and waits there when it is killed.
"""

import datetime as dt

import psycopg
import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from campaigns.models import EngagementEvent
from campaigns.scoring import RECOMPUTE_BATCH, scores_recompute
from campaigns.services import scores_recompute_queue
from funnel.models import Transition
from leads.models import Lead
from outbox.models import PendingTask
from outbox.services import pending_tasks_send, task_enqueue_on_commit
from reporting.models import LeadFact
from reporting.services import rollups_rebuild
from reporting.tasks import refresh_facts
from tests.dashboards.recount import rollup_state
from tests.services import database_url, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


class RowLock:
    """Hold one lead's row lock from another connection, as a long transaction would."""

    def __init__(self, lead_id: int):
        self.conn = psycopg.connect(database_url(connection.settings_dict))
        self.conn.execute("SELECT id FROM leads_lead WHERE id = %s FOR UPDATE", [lead_id])

    def release(self):
        self.conn.rollback()
        self.conn.close()


def after_the_lease() -> dt.datetime:
    return timezone.now() + dt.timedelta(seconds=settings.HANDOFF_OUTBOX_LEASE_SECONDS + 1)


def kill_and_run_again(process, lock: RowLock, worker) -> None:
    process.kill()
    lock.release()
    row = PendingTask.objects.get()
    assert row.attempts == 1  # sent once, never done: the worker died holding it
    # Beat's sweep, once the lease is over, sends it again; a new worker runs it.
    assert pending_tasks_send(now=after_the_lease()) == 1
    second = worker()
    wait_for(lambda: not PendingTask.objects.exists(), message="the second run to finish")
    second.kill()  # idle: a kill is quicker than a warm shutdown, and loses nothing


def test_a_rollup_refresh_killed_midway_is_finished_once(worker):
    leads = Lead.objects.bulk_create(
        [Lead(email=f"r{i}@example.com", stage="mql", source="ads") for i in range(60)]
    )
    Transition.objects.bulk_create(
        [Transition(lead=lead, from_stage="", to_stage="mql", verb="import") for lead in leads]
    )
    ids = [lead.pk for lead in leads]
    process = worker()
    lock = RowLock(ids[40])
    try:
        # 20 leads per transaction: two commit, the third waits on the locked lead.
        task_enqueue_on_commit(task=refresh_facts, args=[ids, 20])
        wait_for(lambda: LeadFact.objects.count() == 40, message="the facts before the lock")
    finally:
        kill_and_run_again(process, lock, worker)

    assert LeadFact.objects.count() == 60
    live = rollup_state()
    rollups_rebuild()
    assert rollup_state() == live  # the first 40 were not counted twice


def test_a_rescoring_killed_midway_is_finished_once(worker):
    count = RECOMPUTE_BATCH + 100
    leads = Lead.objects.bulk_create(
        [Lead(email=f"s{i}@example.com", stage="suspect") for i in range(count)]
    )
    # Three leads cross the threshold: one in the first batch, two in the second.
    hot = [leads[10], leads[RECOMPUTE_BATCH + 10], leads[RECOMPUTE_BATCH + 20]]
    cool = leads[: RECOMPUTE_BATCH + 50 : 7]
    now = timezone.now()
    EngagementEvent.objects.bulk_create(
        [EngagementEvent(lead=lead, kind="form_submitted", points=80, at=now) for lead in hot]
        + [EngagementEvent(lead=lead, kind="page_visited", points=10, at=now) for lead in cool]
    )
    process = worker()
    lock = RowLock(hot[1].pk)
    try:
        scores_recompute_queue()
        wait_for(
            lambda: Lead.objects.get(pk=hot[0].pk).stage == "mql",
            message="the first batch's move",
        )
        wait_for(
            lambda: (
                Lead.objects.filter(pk__lte=leads[RECOMPUTE_BATCH - 1].pk, score=10).count()
                == sum(1 for lead in cool if lead.pk <= leads[RECOMPUTE_BATCH - 1].pk)
            ),
            message="the first batch's scores",
        )
        assert Lead.objects.get(pk=hot[1].pk).stage == "suspect"
    finally:
        kill_and_run_again(process, lock, worker)

    assert set(
        Lead.objects.filter(pk__in=[lead.pk for lead in hot]).values_list("stage", flat=True)
    ) == {"mql"}
    for lead in hot:
        assert Transition.objects.filter(lead=lead, to_stage="mql").count() == 1, lead.pk
    assert Transition.objects.filter(to_stage="mql").count() == 3
    assert Lead.objects.filter(score=10).count() == len(cool) - len(set(cool) & set(hot))
    # Nothing is left to do: a third run changes nothing.
    assert scores_recompute(now=now) == {"leads": count, "updated": 0, "moved": 0}
