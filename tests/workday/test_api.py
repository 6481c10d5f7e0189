"""Activities and tasks through the API (DESIGN.md, "Activities and tasks")."""

import datetime as dt

import pytest
from django.utils import timezone

from funnel.models import Activity, LeadChange, Task


def iso(moment: dt.datetime) -> str:
    return moment.isoformat()


# --- activities -----------------------------------------------------------------------------


def test_it_logs_a_call_with_its_outcome_and_duration(api, rep, make_lead):
    lead = make_lead("sal", owner=rep)
    at = timezone.now() - dt.timedelta(minutes=30)
    response = api(rep).post(
        f"/api/leads/{lead.pk}/activities/",
        {"kind": "call", "outcome": "connected", "at": iso(at), "duration_minutes": 12},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["actor"] == "rep" and body["kind"] == "call" and body["duration_minutes"] == 12
    assert dt.datetime.fromisoformat(body["at"]) == at
    row = Activity.objects.get(pk=body["id"])
    assert row.lead_id == lead.pk and row.outcome == "connected" and row.actor == rep
    listed = api(rep).get(f"/api/leads/{lead.pk}/activities/").json()
    assert [item["id"] for item in listed] == [body["id"]]


def test_it_stamps_now_when_no_time_is_given(api, rep, make_lead):
    lead = make_lead("sal", owner=rep)
    before = timezone.now()
    body = (
        api(rep)
        .post(
            f"/api/leads/{lead.pk}/activities/",
            {"kind": "note", "note": "Asked for a demo"},
            format="json",
        )
        .json()
    )
    assert dt.datetime.fromisoformat(body["at"]) >= before


def test_it_refuses_a_rep_on_a_colleagues_lead(api, rep, rep2, make_lead):
    lead = make_lead("sal", owner=rep2)
    response = api(rep).post(f"/api/leads/{lead.pk}/activities/", {"kind": "call"}, format="json")
    assert response.status_code == 403
    assert "belongs to rep2" in response.json()["detail"]
    assert not Activity.objects.exists()


def test_it_lets_managers_log_on_every_lead_and_reps_on_unassigned_ones(
    api, rep, rep2, manager, make_lead
):
    colleagues = make_lead("sal", owner=rep2)
    unassigned = make_lead("mql")
    assert (
        api(manager)
        .post(f"/api/leads/{colleagues.pk}/activities/", {"kind": "meeting"}, format="json")
        .status_code
        == 201
    )
    assert (
        api(rep)
        .post(f"/api/leads/{unassigned.pk}/activities/", {"kind": "email"}, format="json")
        .status_code
        == 201
    )


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"kind": "fax"}, "kind"),
        ({}, "kind"),
        ({"kind": "note", "duration_minutes": 5, "note": "x"}, "duration_minutes"),
        ({"kind": "call", "duration_minutes": -1}, "duration_minutes"),
        ({"kind": "call", "duration_minutes": 99999}, "duration_minutes"),
        ({"kind": "note"}, "note"),
        ({"kind": "call", "at": "yesterday"}, "at"),
        ({"kind": "call", "mood": "good"}, "mood"),
    ],
)
def test_it_answers_bad_activities_with_400_naming_the_field(api, rep, make_lead, payload, field):
    lead = make_lead("sal", owner=rep)
    response = api(rep).post(f"/api/leads/{lead.pk}/activities/", payload, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["errors"]


def test_it_refuses_an_activity_in_the_future(api, rep, make_lead):
    lead = make_lead("sal", owner=rep)
    later = timezone.now() + dt.timedelta(days=1)
    response = api(rep).post(
        f"/api/leads/{lead.pk}/activities/", {"kind": "call", "at": iso(later)}, format="json"
    )
    assert response.status_code == 400
    assert "task" in response.json()["detail"]


def test_it_answers_404_for_a_missing_lead(api, rep):
    response = api(rep).post("/api/leads/999999/activities/", {"kind": "call"}, format="json")
    assert response.status_code == 404


def test_it_refuses_users_without_a_role(api, nobody, make_lead):
    lead = make_lead("sal")
    assert api(nobody).get(f"/api/leads/{lead.pk}/activities/").status_code == 403
    assert api().get(f"/api/leads/{lead.pk}/activities/").status_code in (401, 403)


# --- tasks ----------------------------------------------------------------------------------


def test_it_creates_a_task_owned_by_its_creator(api, rep, make_lead):
    lead = make_lead("sal", owner=rep)
    due = timezone.now() + dt.timedelta(days=1)
    response = api(rep).post(
        "/api/tasks/",
        {"lead": lead.pk, "title": "Send the proposal", "due_at": iso(due)},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["owner"] == "rep" and body["done"] is False and body["lead"] == lead.pk
    assert Task.objects.get(pk=body["id"]).due_at == due


def test_it_lets_a_manager_give_a_task_to_a_rep_and_refuses_a_rep_giving_one_away(
    api, rep, rep2, manager, make_lead
):
    lead = make_lead("sal", owner=rep)
    due = iso(timezone.now() + dt.timedelta(hours=3))
    given = api(manager).post(
        "/api/tasks/",
        {"lead": lead.pk, "title": "Call back", "due_at": due, "owner": "rep"},
        format="json",
    )
    assert given.status_code == 201 and given.json()["owner"] == "rep"
    refused = api(rep).post(
        "/api/tasks/",
        {"lead": lead.pk, "title": "Yours", "due_at": due, "owner": "rep2"},
        format="json",
    )
    assert refused.status_code == 403
    unknown = api(manager).post(
        "/api/tasks/",
        {"lead": lead.pk, "title": "x", "due_at": due, "owner": "ghost"},
        format="json",
    )
    assert unknown.status_code == 400 and "owner" in unknown.json()["errors"]


def test_it_refuses_a_task_on_a_colleagues_lead(api, rep, rep2, make_lead):
    lead = make_lead("sal", owner=rep2)
    response = api(rep).post(
        "/api/tasks/",
        {"lead": lead.pk, "title": "x", "due_at": iso(timezone.now())},
        format="json",
    )
    assert response.status_code == 403
    missing = api(rep).post(
        "/api/tasks/",
        {"lead": 999999, "title": "x", "due_at": iso(timezone.now())},
        format="json",
    )
    assert missing.status_code == 404
    bad = api(rep).post("/api/tasks/", {"lead": lead.pk, "title": ""}, format="json")
    assert bad.status_code == 400 and {"title", "due_at"} <= set(bad.json()["errors"])


def test_it_filters_tasks_by_owner_lead_due_and_done(api, rep, rep2, manager, make_lead):
    mine = make_lead("sal", owner=rep)
    theirs = make_lead("sal", owner=rep2)
    now = timezone.now()
    overdue = Task.objects.create(
        lead=mine, title="late", due_at=now - dt.timedelta(days=2), owner=rep
    )
    today = Task.objects.create(
        lead=mine, title="today", due_at=now + dt.timedelta(minutes=1), owner=rep
    )
    later = Task.objects.create(
        lead=mine, title="later", due_at=now + dt.timedelta(days=3), owner=rep
    )
    done = Task.objects.create(
        lead=mine, title="done", due_at=now - dt.timedelta(days=1), owner=rep, done_at=now
    )
    other = Task.objects.create(lead=theirs, title="other", due_at=now, owner=rep2)

    def titles(query):
        response = api(rep).get(f"/api/tasks/?{query}")
        assert response.status_code == 200, response.json()
        return {item["title"] for item in response.json()["results"]}

    assert titles("owner=me") == {"late", "today", "later", "done"}
    assert titles("owner=rep2") == {"other"}
    assert titles(f"lead={theirs.pk}") == {"other"}
    assert titles("owner=me&due=overdue") == {"late"}
    assert "today" in titles("owner=me&due=today")
    assert titles("owner=me&done=true") == {"done"}
    assert titles("owner=me&done=false") == {"late", "today", "later"}
    assert api(rep).get("/api/tasks/?due=tomorrow").status_code == 400
    assert api(rep).get("/api/tasks/?lead=abc").status_code == 400
    assert {overdue.pk, today.pk, later.pk, done.pk, other.pk}


def test_it_completes_a_task_once(api, rep, make_lead):
    lead = make_lead("sal", owner=rep)
    task = Task.objects.create(lead=lead, title="Call", due_at=timezone.now(), owner=rep)
    response = api(rep).patch(f"/api/tasks/{task.pk}/", {"done": True}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["done"] is True and response.json()["done_by"] == "rep"
    first = Task.objects.get(pk=task.pk).done_at
    again = api(rep).patch(f"/api/tasks/{task.pk}/", {"done": True}, format="json")
    assert again.status_code == 200 and Task.objects.get(pk=task.pk).done_at == first


def test_it_refuses_completing_a_colleagues_task(api, rep, rep2, manager, make_lead):
    lead = make_lead("sal", owner=rep2)
    task = Task.objects.create(lead=lead, title="Call", due_at=timezone.now(), owner=rep2)
    assert (
        api(rep).patch(f"/api/tasks/{task.pk}/", {"done": True}, format="json").status_code == 403
    )
    assert Task.objects.get(pk=task.pk).done_at is None
    assert (
        api(manager).patch(f"/api/tasks/{task.pk}/", {"done": True}, format="json").status_code
        == 200
    )
    assert api(rep).patch("/api/tasks/999999/", {"done": True}, format="json").status_code == 404
    assert api(rep2).patch(f"/api/tasks/{task.pk}/", {}, format="json").status_code == 400
    assert (
        api(rep2).patch(f"/api/tasks/{task.pk}/", {"done": "maybe"}, format="json").status_code
        == 400
    )


# --- lead edits through PATCH ---------------------------------------------------------------


def test_patch_writes_each_change_to_the_timeline(api, rep, make_lead):
    lead = make_lead("sal", owner=rep, title="Head of IT", company="Acme")
    response = api(rep).patch(
        f"/api/leads/{lead.pk}/", {"title": "CTO", "company": "Acme"}, format="json"
    )
    assert response.status_code == 200
    changes = list(
        LeadChange.objects.filter(lead=lead).values_list("field", "old", "new", "actor__username")
    )
    assert changes == [("title", "Head of IT", "CTO", "rep")]


def test_a_marketer_edits_marketing_leads_but_not_sales_ones(api, marketer, make_lead):
    suspect = make_lead("suspect")
    sal = make_lead("sal")
    assert (
        api(marketer)
        .patch(f"/api/leads/{suspect.pk}/", {"title": "CMO"}, format="json")
        .status_code
        == 200
    )
    refused = api(marketer).patch(f"/api/leads/{sal.pk}/", {"title": "CMO"}, format="json")
    assert refused.status_code == 403 and "marketers edit leads in" in refused.json()["detail"]


# --- speed to first touch -------------------------------------------------------------------


def test_speed_to_first_touch_is_per_rep_who_accepted(client, rep, rep2, manager, make_lead):
    from funnel.activities import first_touch_by_rep
    from tests.conftest import move

    fast = make_lead("mql")
    slow = make_lead("mql")
    untouched = make_lead("mql")
    theirs = make_lead("mql")
    accepted = {}
    for lead, who in ((fast, rep), (slow, rep), (untouched, rep), (theirs, rep2)):
        accepted[lead.pk] = move(lead, "sal", who).at
    # An activity before the accept is not a touch after it.
    Activity.objects.create(
        lead=fast, kind="note", note="x", at=accepted[fast.pk] - dt.timedelta(hours=5)
    )
    Activity.objects.create(lead=fast, kind="call", at=accepted[fast.pk] + dt.timedelta(hours=1))
    Activity.objects.create(lead=fast, kind="call", at=accepted[fast.pk] + dt.timedelta(hours=9))
    Activity.objects.create(lead=slow, kind="call", at=accepted[slow.pk] + dt.timedelta(hours=3))
    Activity.objects.create(
        lead=theirs, kind="email", at=accepted[theirs.pk] + dt.timedelta(hours=10)
    )
    rows = {row["rep"]: row for row in first_touch_by_rep()}
    assert rows["rep"] == {
        "rep": "rep",
        "accepted": 3,
        "touched": 2,
        "untouched": 1,
        "median_hours": 2.0,
    }
    assert rows["rep2"]["median_hours"] == 10.0 and rows["rep2"]["accepted"] == 1
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    assert first_touch_by_rep(since=tomorrow) == []

    client.force_login(manager)
    html = client.get("/dashboard/").content.decode()
    table = html.split("data-first-touch")[1].split("</table>")[0]
    assert 'data-rep="rep"' in table and "<td data-median>2.0</td>" in table


def test_an_erasure_removes_the_person_from_activities_tasks_and_changes(
    api, rep, manager, make_lead
):
    lead = make_lead("sal", owner=rep, phone="+49 30 1234")
    api(rep).post(
        f"/api/leads/{lead.pk}/activities/",
        {"kind": "call", "outcome": "Spoke to Ada", "note": "Ada's mobile is +49 171 5555"},
        format="json",
    )
    Task.objects.create(
        lead=lead, title="Call Ada on +49 171 5555", due_at=timezone.now(), owner=rep
    )
    api(rep).patch(
        f"/api/leads/{lead.pk}/", {"phone": "+49 171 5555", "industry": "Software"}, format="json"
    )
    assert api(manager).delete(f"/api/leads/{lead.pk}/").status_code == 204
    activity = Activity.objects.get(lead=lead)
    assert (activity.kind, activity.note, activity.outcome) == ("call", "", "")
    assert Task.objects.get(lead=lead).title == "(erased)"
    changes = dict(LeadChange.objects.filter(lead=lead).values_list("field", "new"))
    assert changes == {"phone": "", "industry": "Software"}


def test_a_rep_hands_their_own_lead_back_with_patch_but_gives_it_to_no_one(
    api, rep, rep2, make_lead
):
    lead = make_lead("sal", owner=rep)
    given = api(rep).patch(f"/api/leads/{lead.pk}/", {"owner": "rep2"}, format="json")
    assert given.status_code == 403 and "Only managers" in given.json()["detail"]
    back = api(rep).patch(f"/api/leads/{lead.pk}/", {"owner": None}, format="json")
    assert back.status_code == 200 and back.json()["owner"] is None
    assert LeadChange.objects.get(lead=lead, field="owner").old == "rep"
