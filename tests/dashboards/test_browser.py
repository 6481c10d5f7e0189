"""A manager reads the dashboard in headless Chromium: the numbers on the page are the API's."""

import json

import pytest

from tests.conftest import log_in

pytestmark = pytest.mark.browser

RANGE = "since=2025-01-06&until=2025-01-31"


@pytest.mark.django_db(transaction=True)
def test_it_shows_a_manager_the_apis_numbers(page, manager, small_funnel):
    log_in(page, "manager")
    page.goto("/dashboard/")
    page.get_by_label("Entered since").fill("2025-01-06")
    page.get_by_label("Entered until").fill("2025-01-31")
    page.get_by_label("Campaign", exact=True).select_option("spring")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**campaign=spring**")
    api = json.loads(page.request.get(f"/api/funnel/?{RANGE}&campaign=spring").text())

    for bucket in ("tofu", "mofu", "bofu", "won", "nurture", "closed"):
        shown = page.locator(f'[data-bucket="{bucket}"]').inner_text()
        assert int(shown) == api[bucket], bucket
    for stage, count in api["reached"].items():
        assert int(page.locator(f'[data-reached="{stage}"]').inner_text()) == count, stage
        bar = page.locator(f'[data-chart-stage="{stage}"] text').nth(1)
        assert int(bar.text_content()) == count, stage
    for stage, count in api["stages"].items():
        assert int(page.locator(f'[data-stage="{stage}"]').inner_text()) == count, stage
    assert api["reached"]["customer"] == 1
    page.get_by_text("UTC time zone").wait_for()
    page.get_by_role("img", name="Cohort funnel").wait_for()

    # Each number opens the leads behind it.
    page.locator('[data-reached="sql"]').click()
    page.wait_for_url("**/dashboard/leads/**")
    assert page.locator("[data-count]").inner_text() == f"{api['reached']['sql']} leads"
    assert page.get_by_role("link", name="A", exact=True).is_visible()
