"""The lead page's work card (activities, tasks, owner, edits) and "My day", as plain forms."""

import datetime as dt

import pytest
from django.utils import timezone

from funnel.models import Activity, LeadChange, Opportunity, Task
from leads.models import Lead


def local(moment: dt.datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


@pytest.fixture
def signed_in(client):
    def sign_in(user):
        client.force_login(user)
        return client

    return sign_in


def test_it_logs_a_call_with_a_follow_up_and_shows_both_in_the_timeline(signed_in, rep, make_lead):
    lead = make_lead("sal", owner=rep)
    due = timezone.now() + dt.timedelta(days=1)
    response = signed_in(rep).post(
        f"/leads/{lead.pk}/activities/",
        {
            "kind": "call",
            "outcome": "Connected",
            "duration_minutes": "15",
            "note": "Wants pricing",
            "follow_up": "Send pricing",
            "follow_up_due": local(due),
        },
        follow=True,
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Logged the call on" in html and "Follow-up “Send pricing”" in html
    activity = Activity.objects.get(lead=lead)
    assert (activity.kind, activity.outcome, activity.duration_minutes) == ("call", "Connected", 15)
    task = Task.objects.get(lead=lead)
    assert task.title == "Send pricing" and task.owner == rep
    timeline = html.split('class="timeline"')[1]
    assert 'data-entry="activity"' in timeline and "Wants pricing" in timeline
    assert 'data-entry="task"' in timeline and "Send pricing" in timeline


def test_it_shows_the_form_again_with_its_errors(signed_in, rep, make_lead):
    lead = make_lead("sal", owner=rep)
    response = signed_in(rep).post(
        f"/leads/{lead.pk}/activities/",
        {"kind": "note", "follow_up": "Call back"},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "Say when the follow-up is due." in html
    later = signed_in(rep).post(
        f"/leads/{lead.pk}/activities/",
        {"kind": "note", "duration_minutes": "5", "note": "x"},
    )
    assert later.status_code == 400
    assert "Only calls and meetings have a duration." in later.content.decode()
    assert not Activity.objects.exists()


def test_a_rep_cannot_log_or_add_tasks_on_a_colleagues_lead(signed_in, rep, rep2, make_lead):
    lead = make_lead("sal", owner=rep2)
    client = signed_in(rep)
    page = client.get(f"/leads/{lead.pk}/").content.decode()
    assert "Owned by rep2" in page and "Log an activity" not in page
    assert client.post(f"/leads/{lead.pk}/activities/", {"kind": "call"}).status_code == 403
    due = local(timezone.now())
    assert client.post(f"/leads/{lead.pk}/tasks/", {"title": "x", "due_at": due}).status_code == 403
    assert not Activity.objects.exists() and not Task.objects.exists()


def test_it_adds_a_task_and_completes_it_from_the_lead_page(signed_in, rep, make_lead):
    lead = make_lead("sal", owner=rep)
    client = signed_in(rep)
    due = timezone.now() + dt.timedelta(hours=2)
    response = client.post(
        f"/leads/{lead.pk}/tasks/", {"title": "Book a demo", "due_at": local(due)}, follow=True
    )
    assert "Task “Book a demo” added for you." in response.content.decode()
    task = Task.objects.get(lead=lead)
    done = client.post(f"/tasks/{task.pk}/done/", {"next": f"/leads/{lead.pk}/"}, follow=True)
    assert done.redirect_chain[-1][0] == f"/leads/{lead.pk}/"
    assert "Done: Book a demo" in done.content.decode()
    task.refresh_from_db()
    assert task.done_at is not None and task.done_by == rep
    offsite = client.post(f"/tasks/{task.pk}/done/", {"next": "https://evil.example/"})
    assert offsite.url == "/my-day/"


def test_a_rep_cannot_complete_a_colleagues_task(signed_in, rep, rep2, make_lead):
    lead = make_lead("sal", owner=rep2)
    task = Task.objects.create(lead=lead, title="x", due_at=timezone.now(), owner=rep2)
    assert signed_in(rep).post(f"/tasks/{task.pk}/done/").status_code == 403
    assert Task.objects.get(pk=task.pk).done_at is None
    assert signed_in(rep).post("/tasks/999999/done/").status_code == 404


def test_a_manager_reassigns_any_lead_and_its_deal_from_the_lead_page(
    signed_in, manager, rep, rep2, make_lead
):
    lead = make_lead("opportunity", owner=rep)
    Opportunity.objects.filter(lead=lead).update(owner=rep)
    open_task = Task.objects.create(lead=lead, title="Call", due_at=timezone.now(), owner=rep)
    manager_task = Task.objects.create(lead=lead, title="Own", due_at=timezone.now(), owner=manager)
    response = signed_in(manager).post(f"/leads/{lead.pk}/owner/", {"owner": "rep2"}, follow=True)
    html = response.content.decode()
    assert "now belongs to rep2" in html
    lead.refresh_from_db()
    assert lead.owner == rep2
    assert Opportunity.objects.get(lead=lead, status="open").owner == rep2
    assert Task.objects.get(pk=open_task.pk).owner == rep2  # the old owner's tasks follow
    assert Task.objects.get(pk=manager_task.pk).owner == manager
    changes = set(LeadChange.objects.filter(lead=lead).values_list("field", "old", "new"))
    assert changes == {("owner", "rep", "rep2"), ("deal owner", "rep", "rep2")}
    assert "Changed owner" in html and "rep → rep2" in html


def test_a_rep_cannot_reassign(signed_in, rep, rep2, make_lead):
    lead = make_lead("sal", owner=rep)
    assert signed_in(rep).post(f"/leads/{lead.pk}/owner/", {"owner": "rep2"}).status_code == 403
    assert Lead.objects.get(pk=lead.pk).owner == rep


def test_a_manager_is_told_about_an_unknown_owner(signed_in, manager, make_lead):
    lead = make_lead("sal")
    response = signed_in(manager).post(f"/leads/{lead.pk}/owner/", {"owner": "ghost"})
    assert response.status_code == 400 and "There is no user" in response.content.decode()


def test_a_rep_hands_their_lead_back_to_the_queue(signed_in, rep, rep2, make_lead):
    lead = make_lead("mql", owner=rep)
    theirs = make_lead("mql", owner=rep2)
    client = signed_in(rep)
    response = client.post(f"/leads/{lead.pk}/hand-back/", follow=True)
    assert "back in the queue, unassigned" in response.content.decode()
    assert Lead.objects.get(pk=lead.pk).owner is None
    assert LeadChange.objects.get(lead=lead).new == ""
    assert client.post(f"/leads/{theirs.pk}/hand-back/").status_code == 403
    assert Lead.objects.get(pk=theirs.pk).owner == rep2
    again = client.post(f"/leads/{lead.pk}/hand-back/")
    assert again.status_code == 400 and "unassigned already" in again.content.decode()


def test_a_rep_edits_their_leads_fields_and_each_change_is_in_the_timeline(
    signed_in, rep, make_lead
):
    lead = make_lead("sal", owner=rep, company="Acme", title="Head of IT")
    fields = {
        name: getattr(lead, name) or ""
        for name in (
            "email",
            "first_name",
            "last_name",
            "company",
            "title",
            "phone",
            "country",
            "city",
            "industry",
            "website",
            "source",
        )
    }
    fields.update(title="CTO", company_size="250")
    response = signed_in(rep).post(f"/leads/{lead.pk}/edit/", fields, follow=True)
    html = response.content.decode()
    assert "Saved" in html and "title" in html
    lead.refresh_from_db()
    assert lead.title == "CTO" and lead.company_size == 250
    changes = set(LeadChange.objects.filter(lead=lead).values_list("field", "old", "new", "actor"))
    assert changes == {("title", "Head of IT", "CTO", rep.pk), ("company_size", "", "250", rep.pk)}
    assert "Changed company size" in html


def test_an_edit_to_a_taken_email_is_409_and_changes_nothing(signed_in, rep, make_lead):
    make_lead("suspect", email="taken@example.com")
    lead = make_lead("sal", owner=rep)
    response = signed_in(rep).post(
        f"/leads/{lead.pk}/edit/", {"email": "taken@example.com", "title": "x"}
    )
    assert response.status_code == 409
    assert "exists already" in response.content.decode()
    assert not LeadChange.objects.exists()


def test_edit_refusals_follow_the_api(signed_in, rep, rep2, marketer, make_lead):
    theirs = make_lead("sal", owner=rep2)
    assert signed_in(rep).post(f"/leads/{theirs.pk}/edit/", {"title": "x"}).status_code == 403
    page = signed_in(marketer).get(f"/leads/{theirs.pk}/").content.decode()
    assert "Edit details" not in page
    assert signed_in(marketer).post(f"/leads/{theirs.pk}/edit/", {"title": "x"}).status_code == 403
    suspect = make_lead("suspect")
    assert "Edit details" in signed_in(marketer).get(f"/leads/{suspect.pk}/").content.decode()


def test_my_day_lists_overdue_today_and_new_mqls(
    signed_in, rep, rep2, make_lead, django_assert_max_num_queries
):
    lead = make_lead("sal", owner=rep, first_name="Ada", last_name="King")
    mql = make_lead("mql", owner=rep, first_name="Mo", last_name="Quill")
    make_lead("mql", owner=rep2, first_name="Not", last_name="Mine")
    now = timezone.now()
    Task.objects.create(lead=lead, title="Late call", due_at=now - dt.timedelta(days=1), owner=rep)
    end_of_day = timezone.make_aware(dt.datetime.combine(timezone.localdate(), dt.time(23, 59)))
    if end_of_day > now + dt.timedelta(minutes=1):
        Task.objects.create(lead=lead, title="Today call", due_at=end_of_day, owner=rep)
    Task.objects.create(lead=lead, title="Next week", due_at=now + dt.timedelta(days=7), owner=rep)
    Task.objects.create(lead=lead, title="Theirs", due_at=now - dt.timedelta(days=1), owner=rep2)
    client = signed_in(rep)
    with django_assert_max_num_queries(15):
        html = client.get("/my-day/").content.decode()
    overdue = html.split('id="overdue-title"')[1].split("</section>")[0]
    assert "Late call" in overdue and "Theirs" not in overdue and "Next week" not in html
    if end_of_day > now + dt.timedelta(minutes=1):
        assert "Today call" in html.split('id="today-title"')[1].split("</section>")[0]
    mqls = html.split('id="mqls-title"')[1].split("</section>")[0]
    assert "Mo Quill" in mqls and "Not Mine" not in mqls and f'data-mql="{mql.pk}"' in mqls
    assert 'href="/my-day/"' in client.get("/").content.decode()


def test_my_day_is_for_reps_and_managers(signed_in, marketer, manager):
    assert signed_in(marketer).get("/my-day/").status_code == 403
    assert signed_in(manager).get("/my-day/").status_code == 200


def test_a_post_without_a_field_leaves_it_alone_and_the_whole_form_clears_a_box(
    signed_in, rep, make_lead
):
    lead = make_lead("sal", owner=rep, company="Acme", phone="+49 30 1234")
    Lead.objects.filter(pk=lead.pk).update(do_not_email=True)
    client = signed_in(rep)
    client.post(f"/leads/{lead.pk}/edit/", {"title": "CTO"})
    lead.refresh_from_db()
    assert (lead.title, lead.company, lead.phone, lead.do_not_email) == (
        "CTO",
        "Acme",
        "+49 30 1234",
        True,
    )
    whole = {"whole_form": "1", "email": lead.email, "company": "Acme", "title": "CTO"}
    refused = client.post(f"/leads/{lead.pk}/edit/", whole, follow=True)
    lead.refresh_from_db()
    # Clearing the box would give consent back: only the person, or a manager with a reason.
    assert lead.do_not_email is True and lead.phone == "+49 30 1234"
    assert "does not want e-mail" in refused.content.decode()
    client.post(f"/leads/{lead.pk}/edit/", {**whole, "do_not_email": "on"})
    lead.refresh_from_db()
    assert lead.do_not_email is True and lead.phone == ""
    assert LeadChange.objects.filter(lead=lead, field="phone", new="").exists()


def test_the_lead_pages_queries_do_not_grow_with_its_timeline(signed_in, rep, make_lead):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    lead = make_lead("sal", owner=rep)
    client = signed_in(rep)

    def add_work(count):
        for number in range(count):
            Activity.objects.create(lead=lead, kind="call", actor=rep, note=f"call {number}")
            Task.objects.create(lead=lead, title=f"task {number}", due_at=timezone.now(), owner=rep)
            LeadChange.objects.create(lead=lead, field="title", old="a", new="b", actor=rep)

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert client.get(f"/leads/{lead.pk}/").status_code == 200
        return len(captured.captured_queries)

    add_work(1)
    few = queries()
    add_work(10)
    assert queries() == few
