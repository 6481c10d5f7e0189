"""A rep works a lead on its page in headless Chromium, without the API."""

import pytest

from funnel.models import Transition
from leads.models import Lead
from tests.conftest import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_rep_accepts_then_rejects_from_the_lead_page(page, rep, rep2, make_lead):
    mine = make_lead("mql", first_name="Grace", last_name="Hopper")
    Lead.objects.filter(pk=mine.pk).update(owner=None)  # out of round robin's hands
    log_in(page, "rep")
    page.get_by_role("link", name="Leads").first.click()
    page.get_by_label("Stage").select_option("mql")
    page.get_by_role("button", name="Filter").click()
    page.get_by_role("link", name="Grace Hopper").click()

    page.get_by_role("button", name="Accept").click()
    assert page.get_by_text("Accept: Grace Hopper is now SAL.").is_visible()
    timeline = page.locator(".timeline")
    assert "accept" in timeline.inner_text() and "by rep" in timeline.inner_text()

    page.locator("form.action-disqualify").get_by_label("Reason").select_option("no_authority")
    page.locator("form.action-disqualify").get_by_label("Note").fill("Intern, no say")
    page.get_by_role("button", name="Disqualify").click()
    assert page.get_by_text("is now NURTURE").is_visible()
    assert "Intern, no say" in page.locator(".timeline").inner_text()
    verbs = list(Transition.objects.filter(lead=mine).values_list("verb", flat=True))
    assert verbs == ["create", "engage", "accept", "disqualify"]


def test_a_rep_is_told_when_a_colleague_got_there_first(page, rep, rep2, make_lead):
    lead = make_lead("mql", first_name="Alan", last_name="Turing")
    # Round robin gave the new MQL to one of the reps; put it back in the open queue.
    Lead.objects.filter(pk=lead.pk).update(owner=None)
    log_in(page, "rep")
    page.goto(f"/leads/{lead.pk}/")
    # rep2 accepts in another tab, after rep's page was drawn.
    from funnel.services import transition_lead

    transition_lead(lead_id=lead.pk, to="sal", actor=rep2)
    page.get_by_role("button", name="Accept").click()
    assert page.get_by_text("it is in sal now (accept by rep2").is_visible()
    assert Transition.objects.filter(lead=lead, verb="accept").count() == 1
