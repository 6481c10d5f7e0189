"""A rep's working day in headless Chromium: log a call and complete its follow-up, a
manager's reassignment, the lead page and My day at 390 px, and axe-core on both."""

import datetime as dt

import pytest
from django.utils import timezone

from funnel.models import Activity, LeadChange, Task
from leads.models import Lead
from tests.conftest import log_in
from tests.e2e.axe import page_width, severe_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def local(moment: dt.datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


@pytest.fixture
def phone(browser, live_server):
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 390, "height": 844}, is_mobile=True
    )
    context.set_default_timeout(10_000)
    opened = context.new_page()
    yield opened
    context.close()


@pytest.fixture
def worked_lead(make_lead, rep):
    lead = make_lead(
        "sal",
        owner=rep,
        first_name="Ada",
        last_name="Lovelace",
        company="Analytical Engines Ltd",
        email="ada.lovelace.with.a.very.long.address@analytical-engines.example.com",
    )
    Lead.objects.filter(pk=lead.pk).update(owner=rep)
    return lead


def test_a_rep_logs_a_call_and_completes_its_follow_up(page, rep, worked_lead):
    from playwright.sync_api import expect

    log_in(page, "rep")
    page.goto(f"/leads/{worked_lead.pk}/")
    form = page.locator("form.activity-form")
    form.get_by_label("Kind").select_option("call")
    form.get_by_label("Outcome").fill("Connected")
    form.get_by_label("Minutes (calls, meetings)").fill("12")
    form.get_by_label("Note").fill("Wants the enterprise plan; send pricing")
    form.get_by_label("Follow-up task").fill("Send pricing to Ada")
    # Due a minute ago: it is overdue on My day at once, whatever the hour of the run.
    form.get_by_label("Follow-up due").fill(local(timezone.now() - dt.timedelta(minutes=2)))
    form.get_by_role("button", name="Log activity").click()
    expect(page.get_by_text("Logged the call on Ada Lovelace.")).to_be_visible()
    timeline = page.locator(".timeline")
    expect(timeline.locator("[data-entry=activity]")).to_contain_text("Call · Connected · 12 min")
    expect(timeline.locator("[data-entry=task]")).to_contain_text("Send pricing to Ada")
    expect(page.locator(".tasks")).to_contain_text("Send pricing to Ada")
    assert severe_violations(page) == []  # with the message and the new entries

    page.get_by_role("link", name="My day").click()
    expect(page.get_by_role("heading", name="My day", exact=True)).to_be_visible()
    overdue = page.locator("section", has=page.locator("#overdue-title"))
    expect(overdue.locator("[data-count=overdue]")).to_have_text("1")
    overdue.get_by_role("button", name="Done: Send pricing to Ada").click()
    expect(page.get_by_text("Done: Send pricing to Ada (Ada Lovelace).")).to_be_visible()
    expect(page.locator("[data-count=overdue]")).to_have_text("0")
    assert severe_violations(page) == []

    task = Task.objects.get(lead=worked_lead)
    assert task.done_at is not None and task.done_by == rep
    activity = Activity.objects.get(lead=worked_lead)
    assert (activity.kind, activity.duration_minutes, activity.actor) == ("call", 12, rep)
    page.goto(f"/leads/{worked_lead.pk}/")
    expect(page.locator(".timeline [data-entry=task]")).to_contain_text("done")
    expect(page.locator(".tasks")).to_contain_text("No open tasks.")


def test_a_manager_reassigns_a_lead_and_the_old_owner_sees_who_has_it(
    page, manager, rep, rep2, worked_lead
):
    from playwright.sync_api import expect

    log_in(page, "manager")
    page.goto(f"/leads/{worked_lead.pk}/")
    page.get_by_label("Change owner").select_option("rep2")
    page.get_by_role("button", name="Reassign").click()
    expect(page.get_by_text("Ada Lovelace now belongs to rep2.")).to_be_visible()
    expect(page.locator("[data-owner]")).to_have_text("rep2")
    expect(page.locator(".timeline [data-entry=change]")).to_contain_text("rep → rep2")
    assert Lead.objects.get(pk=worked_lead.pk).owner == rep2
    assert LeadChange.objects.get(lead=worked_lead, field="owner").actor == manager
    assert severe_violations(page) == []  # the manager's view: owner select, no log forms

    page.context.clear_cookies()
    log_in(page, "rep")
    page.goto(f"/leads/{worked_lead.pk}/")
    expect(
        page.get_by_text("Owned by rep2 — only they or a manager can move this lead.")
    ).to_be_visible()
    expect(page.get_by_role("button", name="Log activity")).to_have_count(0)


def test_the_lead_page_and_my_day_fit_a_phone_and_pass_axe(
    phone, page, rep, worked_lead, make_lead
):
    now = timezone.now()
    Task.objects.create(
        lead=worked_lead,
        title="Call back about the pilot",
        due_at=now - dt.timedelta(hours=1),
        owner=rep,
    )
    Task.objects.create(
        lead=worked_lead,
        title="Send the contract",
        due_at=now + dt.timedelta(minutes=30),
        owner=rep,
    )
    Activity.objects.create(
        lead=worked_lead,
        kind="meeting",
        outcome="Held",
        duration_minutes=45,
        actor=rep,
        note="Walked through the pipeline board with their head of sales",
    )
    make_lead("mql", owner=rep, first_name="Mo", last_name="Quill")
    Lead.objects.filter(first_name="Mo").update(owner=rep)

    for browser_page, width in ((phone, 390), (page, 1280)):
        log_in(browser_page, "rep")
        for path in (f"/leads/{worked_lead.pk}/", "/my-day/"):
            browser_page.goto(path)
            document, viewport = page_width(browser_page)
            assert viewport <= width
            assert document <= viewport, f"{path} is {document}px wide at {viewport}px"
            assert severe_violations(browser_page) == [], path
        # The edit form, opened, fits too.
        browser_page.goto(f"/leads/{worked_lead.pk}/")
        browser_page.get_by_text("Edit details").click()
        assert page_width(browser_page)[0] <= page_width(browser_page)[1]
        assert severe_violations(browser_page) == []
