"""What axe-core and the browser console found after actions, checked in Chromium.

- Every page that shows a flash message: the messages were a `<ul role="status">`, so its
  `<li>` children sat in no list (axe "listitem", serious).
- The import preview's sideways-scrolling table could not be reached with the keyboard
  (axe "scrollable-region-focusable", serious).
- A queue action whose form had gone stale (the user signed in again, here or in another tab)
  got Django's CSRF failure page, whose inline styles break the Content Security Policy; the
  queue row, under htmx, blamed the lead's owner instead.
"""

import io

import pytest

from campaigns.imports.services import import_job_create
from tests.conftest import log_in
from tests.e2e.axe import severe_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _console(page) -> list[str]:
    seen = []
    page.on(
        "console",
        lambda message: (
            seen.append(f"{page.url}: {message.text[:200]}")
            if "Content Security Policy" in message.text or "Refused to" in message.text
            else None
        ),
    )
    return seen


def test_a_page_with_a_flash_message_has_no_serious_axe_violation(page, manager, make_lead):
    from playwright.sync_api import expect

    first, second = make_lead("mql"), make_lead("mql")
    log_in(page, "manager")
    page.goto("/queue/")
    page.locator(f"#lead-{first.pk}").get_by_role("checkbox").check()
    page.get_by_role("button", name="Accept selected").click()
    expect(page.get_by_role("status").first).to_contain_text("Accepted 1 lead.")
    assert severe_violations(page) == []

    # An error message too: a bulk reject without a reason is refused lead by lead.
    page.locator(f"#lead-{second.pk}").get_by_role("checkbox").check()
    page.get_by_role("button", name="Reject selected").click()
    expect(page.get_by_role("status").first).to_contain_text(f"Lead {second.pk} not rejected")
    assert severe_violations(page) == []


def test_the_import_preview_has_no_serious_axe_violation(page, marketer, settings, tmp_path):
    from playwright.sync_api import expect

    settings.HANDOFF_IMPORT_DIR = str(tmp_path)
    columns = [f"Column {n}" for n in range(14)]
    rows = "\n".join(
        ",".join([f"person{line}@example.com", *[f"a rather long value {n}" for n in range(14)]])
        for line in range(5)
    )
    job = import_job_create(
        user=marketer,
        upload=io.BytesIO(f"Email,{','.join(columns)}\n{rows}\n".encode()),
        file_name="wide.csv",
    )
    log_in(page, "marketer")
    page.goto(f"/imports/{job.pk}/preview/")
    expect(page.get_by_role("heading", name="Preview of wide.csv")).to_be_visible()
    region = page.get_by_role("region", name="The first rows as they would import")
    assert region.evaluate("el => el.scrollWidth > el.clientWidth"), "the table must scroll"
    region.focus()
    assert region.evaluate("el => document.activeElement === el")
    assert severe_violations(page) == []


def test_queue_actions_break_no_content_security_policy(page, rep, manager, make_lead):
    from playwright.sync_api import expect

    from leads.models import Lead

    leads = [make_lead("mql", first_name=name, last_name="Lead") for name in ("Ana", "Ben", "Cy")]
    Lead.objects.filter(pk__in=[lead.pk for lead in leads]).update(owner=None)
    ana, ben, cy = leads
    seen = _console(page)
    log_in(page, "rep")
    page.goto("/queue/")
    page.wait_for_load_state("networkidle")

    page.locator(f"#lead-{ana.pk}").get_by_role("button", name="Claim").click()
    expect(page.locator(f"#lead-{ana.pk}")).to_contain_text("rep")
    page.locator(f"#lead-{ana.pk}").get_by_role("button", name="Accept").click()
    expect(page.locator(f"#lead-{ana.pk}")).to_contain_text("Accepted")
    page.locator(f"#lead-{ben.pk}").get_by_role("button", name="Reject").click()
    expect(page.locator(f"#lead-{ben.pk}")).to_contain_text("needs a reason")
    page.locator(f"#lead-{ben.pk}").get_by_label("Reason").select_option(label="No budget")
    page.locator(f"#lead-{ben.pk}").get_by_role("button", name="Reject").click()
    expect(page.locator(f"#lead-{ben.pk}")).to_contain_text("Rejected")
    page.locator(f"#lead-{cy.pk}").get_by_role("checkbox").check()
    page.get_by_role("button", name="Accept selected").click()
    expect(page.get_by_role("status")).to_contain_text("1 lead")
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(300)  # settle, after which htmx would have done its last swap work
    assert seen == []
    assert severe_violations(page) == []


def test_a_stale_queue_form_answers_a_page_that_keeps_the_policy(page, rep, make_lead):
    from playwright.sync_api import expect

    from leads.models import Lead

    first, second = make_lead("mql"), make_lead("mql")
    Lead.objects.filter(pk__in=[first.pk, second.pk]).update(owner=None)
    seen = _console(page)
    log_in(page, "rep")
    page.goto("/queue/")
    page.wait_for_load_state("networkidle")
    # Signing in again in another tab gives the session a new CSRF secret.
    other = page.context.new_page()
    other.goto("/")
    other.get_by_role("button", name="Log out").click()
    log_in(other, "rep")
    other.close()

    page.locator(f"#lead-{first.pk}").get_by_role("button", name="Accept").click()
    expect(page.locator(f"#lead-{first.pk}")).to_contain_text("This page has expired")
    page.locator(f"#lead-{second.pk}").get_by_role("checkbox").check()
    page.get_by_role("button", name="Accept selected").click()
    expect(page.get_by_role("heading", name="This form has expired")).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert seen == []
    assert severe_violations(page) == []
    assert Lead.objects.filter(pk__in=[first.pk, second.pk], stage="mql").count() == 2


def test_a_segment_s_errors_are_a_list_axe_accepts(page, marketer):
    from playwright.sync_api import expect

    log_in(page, "marketer")
    page.goto("/segments/new/")
    page.locator("#id_name").fill("Nonsense")
    page.locator("#id_field_0").fill("no_such_field")
    page.get_by_role("button", name="Save segment").click()
    expect(page.get_by_role("alert").first).to_contain_text("no_such_field")
    assert severe_violations(page) == []
