import pytest

from campaigns.nurture.models import Programme
from tests.conftest import log_in

pytestmark = pytest.mark.browser


def test_a_marketer_builds_a_programme_in_a_real_browser(page, marketer):
    log_in(page, "marketer")
    page.get_by_role("link", name="Nurture").click()
    page.get_by_label("Name").fill("Lost deals: win-back")
    page.get_by_label("Lost opportunities", exact=True).check()
    page.get_by_role("button", name="Create programme").click()
    assert page.get_by_role("heading", name="Lost deals: win-back").is_visible()

    page.get_by_role("combobox", name="Step").select_option(label="Send an e-mail")
    page.get_by_label("Subject").fill("{{ lead.first_name }}, what changed since?")
    page.get_by_label("Body").fill("Hello {{ lead.first_name }}, a short case study for you.")
    page.get_by_role("button", name="Add step").click()
    page.get_by_role("combobox", name="Step").select_option(label="Wait")
    page.get_by_label("Wait (days)").fill("14")
    page.get_by_role("button", name="Add step").click()
    page.get_by_role("combobox", name="Step").select_option(label="Add to an audience")
    page.get_by_label("Audience").fill("Lost deals")
    page.get_by_role("button", name="Add step").click()

    steps = page.get_by_role("table").nth(1)
    assert steps.get_by_text("E-mail: {{ lead.first_name }}, what changed since?").is_visible()
    assert steps.get_by_text("Wait 14 days").is_visible()
    assert steps.get_by_text("Add to audience: Lost deals").is_visible()
    programme = Programme.objects.get(name="Lost deals: win-back")
    assert programme.exits == ["opportunity"]
    assert [step.kind for step in programme.steps.order_by("position")] == [
        "email",
        "wait",
        "audience",
    ]
