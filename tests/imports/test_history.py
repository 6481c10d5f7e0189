"""History import (forward only, one log row per move), idempotent re-import, membership."""

import datetime as dt

import pytest

from campaigns.models import CampaignMembership
from funnel.models import Transition
from funnel.services import lead_create
from leads.models import Lead
from reporting.selectors import funnel_snapshot

from .conftest import counts, import_csv

pytestmark = pytest.mark.django_db

JAN = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)

HISTORY = (
    "Email,Company,Deal Stage,Stage Date\n"
    "mql@example.com,Moved Co,Engaging,2024-03-01\n"
    "won@example.com,Won Co,Won,2024-02-01\n"
    "done@example.com,,Prospecting,2024-04-01\n"
)


@pytest.fixture
def existing(db, manager):
    mql = lead_create(system_actor="test", fields={"email": "mql@example.com"}, stage="mql", at=JAN)
    done = lead_create(system_actor="test", fields={"email": "done@example.com"}, at=JAN)
    # Walk `done` to customer through the real service, all in January.
    from funnel.services import transition_lead
    from tests.conftest import VERB_FIELDS

    for step in ("mql", "sal", "sql", "opportunity", "customer"):
        transition_lead(
            lead_id=done.pk,
            to=step,
            actor=manager,
            fields=VERB_FIELDS.get({"sql": "qualify", "opportunity": "convert"}.get(step, "")),
            at=JAN,
        )
    return {"mql": mql, "done": done}


def test_it_moves_leads_forward_with_one_log_row_at_the_rows_date(existing):
    job = import_csv(HISTORY)
    assert counts(job) == (1, 1, 1, 0)

    moved = Lead.objects.get(email="mql@example.com")
    assert (moved.stage, moved.company) == ("opportunity", "Moved Co")
    row = moved.transitions.order_by("-id").first()
    assert (row.from_stage, row.to_stage, row.verb) == ("mql", "opportunity", "import")
    assert row.at == dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
    assert row.actor_label == f"system: import #{job.pk} (leads.csv)"
    assert moved.transitions.count() == 2

    won = Lead.objects.get(email="won@example.com")
    assert won.stage == "customer"
    assert list(won.transitions.values_list("from_stage", "to_stage", "at")) == [
        ("", "customer", dt.datetime(2024, 2, 1, tzinfo=dt.UTC))
    ]

    # Never backwards: the customer stays a customer, with no new log row.
    done = Lead.objects.get(email="done@example.com")
    assert done.stage == "customer"
    assert done.transitions.filter(verb="import").count() == 0


def test_a_lead_imported_into_a_late_stage_counts_for_every_stage_before_it(committed):
    import_csv("Email,Stage,Stage Date\nwon@example.com,customer,2024-02-01\n")
    reached = funnel_snapshot()["reached"]
    assert reached == {
        "suspect": 1,
        "mql": 1,
        "sal": 1,
        "sql": 1,
        "opportunity": 1,
        "customer": 1,
    }
    cohort = funnel_snapshot(since=dt.date(2024, 2, 1), until=dt.date(2024, 2, 1))
    assert cohort["reached"]["customer"] == 1


def test_every_new_lead_gets_a_first_log_row_in_the_upload_stage(db):
    job = import_csv("Email\nann@example.com\nbob@example.com\n", default_stage="mql")
    rows = Transition.objects.filter(verb="import").values_list("from_stage", "to_stage")
    assert sorted(rows) == [("", "mql"), ("", "mql")]
    assert job.created == 2


def test_the_upload_stage_moves_existing_leads_forward_only(existing):
    job = import_csv("Email\nmql@example.com\ndone@example.com\n", default_stage="sal")
    assert counts(job) == (0, 1, 1, 0)
    assert Lead.objects.get(email="mql@example.com").stage == "sal"
    assert Lead.objects.get(email="done@example.com").stage == "customer"


def test_a_second_import_of_the_same_file_changes_nothing(existing, campaign):
    first = import_csv(HISTORY, campaign=campaign)
    log_rows = Transition.objects.count()
    stamps = dict(Lead.objects.values_list("email", "updated_at"))
    second = import_csv(HISTORY, campaign=campaign)
    assert counts(second) == (0, 0, 3, 0)
    assert Transition.objects.count() == log_rows
    assert dict(Lead.objects.values_list("email", "updated_at")) == stamps
    assert Lead.objects.count() == 3
    assert first.created == 1


def test_on_duplicate_skip_leaves_existing_leads_alone(existing):
    job = import_csv(HISTORY, on_duplicate="skip")
    assert counts(job) == (1, 0, 2, 0)
    lead = Lead.objects.get(email="mql@example.com")
    assert (lead.stage, lead.company) == ("mql", "")


def test_update_fills_and_overwrites_mapped_fields_but_blanks_change_nothing(existing):
    Lead.objects.filter(email="mql@example.com").update(first_name="Old", title="CTO")
    job = import_csv("Email,First Name,Job Title\nmql@example.com,New,\n")
    assert counts(job) == (0, 1, 0, 0)
    lead = Lead.objects.get(email="mql@example.com")
    assert (lead.first_name, lead.title, lead.stage) == ("New", "CTO", "mql")


def test_membership_keeps_the_first_touch_and_touches_again_only_on_a_change(db, campaign):
    first = import_csv("Email,Company\nann@example.com,Acme\n", campaign=campaign)
    membership = CampaignMembership.objects.get(lead__email="ann@example.com")
    assert (membership.how, membership.touches) == ("import", 1)
    assert membership.joined_at == first.started_at

    import_csv("Email,Company\nann@example.com,Acme\n", campaign=campaign)
    membership.refresh_from_db()
    assert membership.touches == 1

    third = import_csv("Email,Company\nann@example.com,Acme Group\n", campaign=campaign)
    membership.refresh_from_db()
    assert membership.touches == 2
    assert membership.joined_at == first.started_at
    assert membership.touched_at == third.started_at


def test_an_import_batch_whose_count_fails_is_counted_by_workers(committed, monkeypatch):
    """The batch counts its leads in its own transaction; should that fail, the batch still
    commits, its leads are marked pending and queued for workers, who count them."""
    from config.celery import app
    from reporting import receivers
    from reporting.models import PendingRefresh

    def broken(**kwargs):
        raise RuntimeError("no rollups today")

    monkeypatch.setattr(receivers, "lead_facts_refresh", broken)
    monkeypatch.setattr(receivers, "REFRESH_CHUNK", 2)
    monkeypatch.setitem(app.conf, "task_always_eager", True)  # the worker's code, in-process
    import_csv("Email,Stage\na@example.com,sql\nb@example.com,mql\nc@example.com,suspect\n")
    reached = funnel_snapshot()["reached"]
    assert (reached["suspect"], reached["mql"], reached["sql"]) == (3, 2, 1)
    assert not PendingRefresh.objects.exists()
