"""A lead from an ad shows where it came from: the leads list filters by UTM values, and the
lead page shows the first and last touch, in headless Chromium."""

import pytest
from playwright.sync_api import expect

from campaigns.models import Campaign
from tests.conftest import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_manager_finds_a_lead_from_an_ad_by_its_utm_source_and_sees_its_touches(
    page, marketer, manager
):
    Campaign.objects.create(
        name="Google Ads CRM",
        slug="google-ads-crm",
        channel="paid_search",
        capture_published=True,
        capture_fields=["first_name"],
        created_by=marketer,
    )
    page.goto(
        "/f/google-ads-crm/?utm_source=google&utm_medium=cpc&utm_campaign=crm&gclid=TeSt-9",
        referer="https://www.google.com/",
    )
    page.get_by_label("E-mail").fill("ada@example.com")
    page.get_by_label("First name").fill("Ada")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("heading", name="Thank you!")).to_be_visible()

    page.context.clear_cookies()
    log_in(page, "manager")
    page.goto("/leads/")
    page.get_by_label("UTM source").fill("google")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("1 lead", exact=True)).to_be_visible()
    page.get_by_role("link", name="Ada").click()

    first = page.get_by_role("region", name="First touch")
    expect(first).to_contain_text("Google Ads CRM")
    expect(first).to_contain_text("Paid search")
    expect(first).to_contain_text("cpc")
    expect(first).to_contain_text("TeSt-9")
    expect(first).to_contain_text("https://www.google.com/")
    expect(page.get_by_role("region", name="Last touch")).to_contain_text("TeSt-9")

    page.goto("/leads/?utm_source=bing")
    expect(page.get_by_text("No leads match.")).to_be_visible()
