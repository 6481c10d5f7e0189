"""The queue, the pipeline board and the leads list in headless Chromium: drag a deal and
move one by keyboard, filter the queue to mine, export a filtered list, and each page at
390 px wide with axe-core."""

import csv
import io
from pathlib import Path

import pytest

from funnel.models import Opportunity
from leads.models import Lead
from tests.conftest import FUTURE, log_in, move
from tests.e2e.axe import page_width, severe_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _deal(make_lead, owner, name, amount="1000"):
    lead = make_lead("sql", owner=owner, first_name=name, last_name="Deal", company=f"{name} AG")
    move(
        lead,
        "opportunity",
        owner,
        fields={"amount": amount, "expected_close": FUTURE, "pipeline_stage": "discovery"},
    )
    return Opportunity.objects.get(lead=lead, status="open")


def _stage_of(deal):
    deal.refresh_from_db()
    return deal.pipeline_stage.slug


def test_a_rep_drags_a_deal_and_moves_another_by_keyboard(page, rep, make_lead):
    from playwright.sync_api import expect

    dragged = _deal(make_lead, rep, "Ada")
    keyed = _deal(make_lead, rep, "Bob")
    log_in(page, "rep")
    page.goto("/pipeline/")
    proposal = page.locator("ul.deals[data-stage=proposal]")
    page.locator(f"#deal-{dragged.pk} .deal-line").drag_to(proposal)
    expect(proposal.locator(f"#deal-{dragged.pk}")).to_be_visible()
    expect(page.locator("#board-status")).to_contain_text("Ada Deal moved to Proposal.")
    expect(page.locator("section[data-stage=proposal] [data-count]")).to_have_text("1")
    assert _stage_of(dragged) == "proposal"

    handle = page.locator(f"#deal-{keyed.pk} [data-handle]")
    handle.focus()
    page.keyboard.press("ArrowRight")
    expect(proposal.locator(f"#deal-{keyed.pk}")).to_be_visible()
    page.keyboard.press("ArrowRight")  # the focus stays on the deal's handle
    expect(page.locator(f"ul.deals[data-stage=negotiation] #deal-{keyed.pk}")).to_be_visible()
    expect(page.locator("#board-status")).to_contain_text("Bob Deal moved to Negotiation.")
    expect(page.locator("#board-announce")).to_have_text("Bob Deal moved to Negotiation.")
    assert _stage_of(keyed) == "negotiation"
    assert page.url.endswith("/pipeline/")  # no reload


def test_lost_without_a_reason_is_refused_on_the_pipeline_page(page, rep, make_lead):
    from playwright.sync_api import expect

    deal = _deal(make_lead, rep, "Cleo")
    log_in(page, "rep")
    page.goto("/pipeline/")
    card = page.locator(f"#deal-{deal.pk}")
    card.get_by_text("Move, won, lost").click()
    card.get_by_role("button", name="Lost").click()
    expect(page.get_by_role("alert")).to_contain_text("Lost needs a reason.")
    assert page.url.endswith("/pipeline/")
    assert (
        _stage_of(deal) == "discovery" and Lead.objects.get(pk=deal.lead_id).stage == "opportunity"
    )


def test_work_my_mqls_filters_the_queue_to_mine(page, rep, rep2, make_lead):
    from playwright.sync_api import expect

    mine = make_lead("mql", owner=rep, first_name="Mine", last_name="One")
    free = make_lead("mql", first_name="Free", last_name="Two")
    theirs = make_lead("mql", owner=rep2, first_name="Theirs", last_name="Three")
    Lead.objects.filter(pk=free.pk).update(owner=None)
    log_in(page, "rep")
    page.get_by_role("link", name="Work my MQLs").click()
    expect(page.locator("tr.queue-row")).to_have_count(1)
    expect(page.locator(f"#lead-{mine.pk}")).to_be_visible()
    tabs = page.get_by_role("navigation", name="Whose MQLs")
    expect(tabs.locator("[aria-current=page]")).to_contain_text("Mine 1")
    tabs.locator("[data-owner=none]").click()
    expect(page.locator("tr.queue-row")).to_have_count(1)
    expect(page.locator(f"#lead-{free.pk}")).to_be_visible()
    tabs.locator("[data-owner=all]").click()
    rows = page.locator("tr.queue-row")
    expect(rows).to_have_count(2)
    expect(rows.first).to_have_id(f"lead-{mine.pk}")  # the rep's own first
    assert page.locator(f"#lead-{theirs.pk}").count() == 0


def test_a_filtered_leads_list_exports_its_rows(page, rep, make_lead):
    from playwright.sync_api import expect

    for n in range(3):
        make_lead("mql", first_name=f"Mql{n}", last_name="Lead", source="webinar")
    make_lead("mql", first_name="Other", last_name="Source", source="ads")
    make_lead("sal", owner=rep, first_name="Sal", last_name="Lead", source="webinar")
    Lead.objects.filter(first_name="Mql1").update(company="=1+2")
    log_in(page, "rep")
    page.goto("/leads/")
    page.get_by_label("Stage").select_option("mql")
    page.get_by_label("Source", exact=True).fill("webinar")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#lead-count")).to_have_text("3 leads")
    page.get_by_role("link", name="Lead", exact=True).click()  # sort by name
    with page.expect_download() as download:
        page.get_by_role("link", name="Export CSV").click()
    text = Path(download.value.path()).read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert sorted(row["first_name"] for row in rows) == ["Mql0", "Mql1", "Mql2"]
    assert {row["stage"] for row in rows} == {"mql"}
    assert {row["source"] for row in rows} == {"webinar"}
    assert next(row for row in rows if row["first_name"] == "Mql1")["company"] == "'=1+2"

    # Then move every lead on the page at once: each done or refused with its reason.
    page.get_by_label("Select every lead on this page").check()
    page.get_by_label("Move to").select_option("sal")
    page.get_by_role("button", name="Move", exact=True).click()
    expect(page.get_by_text("Moved: 3 leads.")).to_be_visible()
    assert Lead.objects.filter(stage="sal", source="webinar").count() == 4


@pytest.fixture
def phone(browser, live_server):
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 390, "height": 844}, is_mobile=True
    )
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def test_the_pages_fit_a_phone_and_pass_axe(phone, manager, rep, make_lead):
    from campaigns.models import Campaign, CampaignMembership

    campaign = Campaign.objects.create(name="A long campaign name for a narrow screen", slug="c")
    for n in range(4):
        lead = make_lead(
            "mql",
            owner=rep if n % 2 else None,
            first_name=f"Maximiliane{n}",
            last_name="Vandenberghe-Oppenheimer",
            email=f"maximiliane.vandenberghe{n}@a-very-long-company-domain.example.com",
            company="Vandenberghe Industrial Holdings International GmbH",
            title="Head of Procurement and Strategic Sourcing",
            source="webinar",
        )
        CampaignMembership.objects.create(lead=lead, campaign=campaign)
    _deal(make_lead, rep, "Wide", amount="1234567.89")
    log_in(phone, "manager")
    for path in ("/queue/", "/pipeline/", "/leads/", "/dashboard/"):
        phone.goto(path)
        scroll, viewport = page_width(phone)
        assert scroll <= viewport, f"{path} is {scroll}px wide in a {viewport}px viewport"
        assert severe_violations(phone) == [], path
