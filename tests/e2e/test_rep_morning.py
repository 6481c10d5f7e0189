"""A rep's morning in headless Chromium: clear the queue, carry a lead to customer."""

import datetime as dt

import pytest

from funnel.models import Transition
from leads.models import Lead
from tests.conftest import log_in

pytestmark = pytest.mark.browser


@pytest.fixture
def morning(make_lead, rep):
    return {
        name: make_lead("mql", first_name=name, last_name="Lead", company=f"{name} GmbH")
        for name in ("Ana", "Ben", "Cy")
    }


def test_a_reps_morning(page, rep, morning):
    from playwright.sync_api import expect

    ana, ben, cy = morning["Ana"], morning["Ben"], morning["Cy"]
    log_in(page, "rep")
    page.get_by_role("link", name="Queue", exact=True).click()
    expect(page.get_by_role("heading", name="MQL queue")).to_be_visible()
    expect(page.locator("tr.queue-row")).to_have_count(3)

    # Accept with the mouse, then with the keyboard; each row is replaced in place.
    page.locator(f"#lead-{ana.pk}").get_by_role("button", name="Accept").click()
    expect(page.locator(f"#lead-{ana.pk}")).to_contain_text("Accepted: Ana Lead is now SAL.")
    page.locator(f"#lead-{ben.pk}").get_by_role("button", name="Accept").focus()
    page.keyboard.press("a")
    expect(page.locator(f"#lead-{ben.pk}")).to_contain_text("Accepted: Ben Lead is now SAL.")

    # Rejecting needs a reason: without one the row says so and nothing moves.
    cy_row = page.locator(f"#lead-{cy.pk}")
    cy_row.get_by_role("button", name="Reject").click()
    expect(page.locator(f"#lead-{cy.pk}")).to_contain_text("Reject needs a reason.")
    page.locator(f"#lead-{cy.pk}").get_by_label("Reason").select_option(label="No budget")
    page.locator(f"#lead-{cy.pk}").get_by_role("button", name="Reject").click()
    expect(page.locator(f"#lead-{cy.pk}")).to_contain_text("Rejected: Cy Lead is now NURTURE.")
    assert page.url.endswith("/queue/")  # all in place, no reload

    # Qualify Ana with BANT, then convert her to an opportunity.
    page.locator(f"#lead-{ana.pk}").get_by_role("link", name="Open Ana Lead").click()
    page.get_by_label("Budget").fill("40k approved for this year")
    page.get_by_label("Authority").fill("The CFO signs; the head of sales decides")
    page.get_by_label("Need").fill("Leads get lost between marketing and sales")
    page.get_by_label("Timeline").fill("Start in Q3")
    page.get_by_role("button", name="Qualify", exact=True).click()
    expect(page.get_by_text("Qualify: Ana Lead is now SQL.")).to_be_visible()

    page.get_by_label("Amount").fill("-10")
    page.get_by_label("Expected close").fill((dt.date.today() + dt.timedelta(days=30)).isoformat())
    page.get_by_role("button", name="Convert").click()
    # The browser itself refuses a negative amount (the server does too: test_verb_forms).
    assert page.get_by_label("Amount").evaluate("input => input.validity.valid") is False
    assert Lead.objects.get(pk=ana.pk).stage == "sql"
    page.get_by_label("Amount").fill("24000")
    page.get_by_label("Pipeline stage").select_option(label="Proposal")
    page.get_by_role("button", name="Convert").click()
    expect(page.get_by_text("Convert: Ana Lead is now OPPORTUNITY.")).to_be_visible()

    # Win it from the pipeline.
    page.get_by_role("link", name="Pipeline", exact=True).click()
    proposal = page.locator("[data-stage=proposal]")
    expect(proposal.locator("[data-count]")).to_have_text("1")
    expect(proposal.locator("[data-sum]")).to_have_text("24,000.00")
    proposal.locator("summary").click()  # Move, Won and Lost sit in one disclosure per deal
    proposal.get_by_role("button", name="Won").click()
    expect(page.get_by_text("Won: Ana Lead is now CUSTOMER.")).to_be_visible()

    # Every move is in the lead's timeline.
    page.goto(f"/leads/{ana.pk}/")
    timeline = page.locator(".timeline")
    for text in ("accept", "qualify", "convert", "win"):
        expect(timeline.get_by_text(text, exact=True)).to_be_visible()
    expect(timeline).to_contain_text("by rep")
    assert Lead.objects.get(pk=ana.pk).stage == "customer"
    assert list(
        Transition.objects.filter(lead=ana).order_by("at", "id").values_list("verb", flat=True)
    ) == ["create", "engage", "accept", "qualify", "convert", "win"]
    assert Lead.objects.get(pk=cy.pk).stage == "nurture"
