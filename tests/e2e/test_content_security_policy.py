"""Every page works under the Content Security Policy: Chromium reports no violation."""

import pytest

from campaigns.models import Campaign
from tests.conftest import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAGES = [
    "/",
    "/leads/",
    "/leads/{lead}/",
    "/queue/",
    "/pipeline/",
    "/criteria/",
    "/dashboard/",
    "/dashboard/campaigns/",
    "/campaigns/",
    "/campaigns/{campaign}/",
    "/segments/new/",
    "/scoring/",
    "/scoring/model/",
    "/imports/new/",
    "/imports/",
    "/nurture/",
    "/content/",
    "/api/docs/",
]


def _watch(page):
    violations = []
    page.on(
        "console",
        lambda message: (
            violations.append(f"{page.url}: {message.text[:60]}")
            if "Content Security Policy" in message.text
            else None
        ),
    )
    return violations


def test_signed_in_pages_load_without_csp_violations(page, manager, make_lead):
    lead = make_lead("mql")
    campaign = Campaign.objects.create(name="Spring", slug="spring", channel="webinar")
    violations = _watch(page)
    log_in(page, "manager")
    for path in PAGES:
        response = page.goto(path.format(lead=lead.pk, campaign=campaign.slug))
        assert response.status == 200, path
        assert "default-src 'self'" in response.headers["content-security-policy"], path
        page.wait_for_load_state("networkidle")
    assert violations == []
    page.goto("/api/docs/")
    page.wait_for_selector(".swagger-ui .information-container", timeout=15_000)


def test_the_public_landing_page_loads_without_csp_violations(page, marketer):
    Campaign.objects.create(
        name="Spring",
        slug="spring",
        channel="webinar",
        capture_published=True,
        capture_headline="Join us",
    )
    violations = _watch(page)
    response = page.goto("/f/spring/")
    assert response.status == 200
    page.wait_for_load_state("networkidle")
    assert page.get_by_role("heading", name="Join us").is_visible()
    assert violations == []
