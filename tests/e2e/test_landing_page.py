import re

import pytest
from playwright.sync_api import expect

from campaigns.models import Campaign
from leads.models import Lead
from tests.conftest import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_visitor_fills_the_landing_page_and_the_marketer_sees_the_new_mql(page, marketer):
    Campaign.objects.create(
        name="Spring webinar",
        slug="spring-webinar",
        channel="paid_search",
        capture_published=True,
        capture_headline="Hand leads over without losing them",
        positioning="For revenue teams who argue about lead quality.",
        capture_fields=["first_name", "company"],
        consent_text="I agree to hear about the webinar.",
        created_by=marketer,
    )

    # A visitor clicks an ad: no login, UTM and gclid on the URL.
    page.goto("/f/spring-webinar/?utm_source=google&utm_medium=cpc&gclid=TeSt-123")
    expect(page.get_by_role("heading", name="Hand leads over without losing them")).to_be_visible()
    expect(page.get_by_text("For revenue teams who argue")).to_be_visible()
    page.get_by_label("E-mail").fill("ada@example.com")
    page.get_by_label("First name").fill("Ada")
    page.get_by_label("Company").fill("Analytical Engines")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("alert")).to_contain_text("Please give your consent")
    page.get_by_label("I agree to hear about the webinar.").check()
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("heading", name="Thank you!")).to_be_visible()
    assert Lead.objects.get(email="ada@example.com").stage == "mql"

    # The marketer finds the new MQL in the campaign, with its attribution and score.
    page.context.clear_cookies()
    log_in(page, "marketer")
    page.get_by_role("link", name="Campaigns", exact=True).click()
    page.get_by_role("link", name="Spring webinar").click()
    expect(page.locator('td[data-members="mql"]')).to_have_text("1")
    submissions = page.get_by_role("region", name="Recent submissions")
    expect(submissions).to_contain_text("Ada")
    expect(submissions).to_contain_text("google / cpc")
    expect(submissions).to_contain_text("gclid TeSt-123")
    submissions.get_by_role("link", name="Ada").click()
    expect(page).to_have_url(re.compile(r"/leads/\d+/$"))
    expect(page.get_by_role("heading", name="Score 50")).to_be_visible()
    expect(page.get_by_text("system: form submitted on campaign spring-webinar")).to_be_visible()


def test_a_marketer_defines_a_segment_and_sees_its_live_count(page, marketer, make_lead):
    make_lead("suspect", country="Germany")
    make_lead("suspect", country="France")
    log_in(page, "marketer")
    page.goto("/segments/new/")
    page.get_by_label("Name").fill("Germany")
    page.get_by_label("Field 1").fill("country")
    page.get_by_label("Operator 1").select_option("equals")
    page.get_by_label("Value 1").fill("germany")
    # htmx updates the count as the form changes, without a click.
    expect(page.locator(".segment-count")).to_have_text("1")
    page.get_by_role("button", name="Save segment").click()
    expect(page.get_by_text("Saved the segment Germany.")).to_be_visible()
    expect(page.locator(".segment-count")).to_have_text("1")
