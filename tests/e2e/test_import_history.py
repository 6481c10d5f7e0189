"""Moving in with real history, in headless Chromium: a manager imports Maven's
sales_pipeline.csv through the pages, decides the outcomes and the owners matching nobody,
and finds the deals on /pipeline/ and the lost deal's story on its lead page."""

import csv
from collections import Counter
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from campaigns.imports.models import ImportJob
from funnel.models import Opportunity, SlaBreach, Transition
from leads.models import Lead
from leads.roles import SALES_REP
from tests.conftest import log_in
from tests.imports.conftest import shared_data

pytestmark = pytest.mark.browser

DATA = shared_data()


@pytest.fixture
def eager_tasks():
    from config.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


@pytest.fixture
def import_dir(settings, tmp_path):
    settings.HANDOFF_IMPORT_DIR = str(tmp_path / "imports")


@pytest.mark.skipif(DATA is None, reason="the real exports (../shared/data) are not here")
def test_a_manager_imports_the_maven_pipeline_with_outcomes_and_owners(
    page, manager, rep, eager_tasks, import_dir, tmp_path
):
    # The real export's first 300 and last 300 lines (Prospecting only appears near its
    # end, past the sample): the whole file takes minutes in a live server whose worker is
    # eager (tests/imports/test_real_exports.py imports all of it through the services).
    lines = (DATA / "maven-crm" / "sales_pipeline.csv").read_text(encoding="utf-8").splitlines()
    path = tmp_path / "sales_pipeline.csv"
    path.write_text("\n".join([lines[0], *lines[1:301], *lines[-300:]]) + "\n", encoding="utf-8")
    with open(path, newline="", encoding="utf-8") as handle:
        raw = list(csv.DictReader(handle))
    assert len(raw) == 600
    # One agent is a user already (matched by full name); the others match nobody.
    darcel = get_user_model().objects.create_user(
        username="darcel", first_name="Darcel", last_name="Schlecht", password="x-1-long-pw"
    )
    darcel.groups.add(Group.objects.get_or_create(name=SALES_REP)[0])

    log_in(page, "manager")
    page.goto("/imports/new/")
    page.get_by_label("CSV file").set_input_files(str(path))
    page.get_by_role("button", name="Upload").click()
    page.wait_for_url("**/mapping/")

    # The columns a person would keep: the deal's, matched by their names.
    assert page.get_by_label("deal_stage").input_value() == "stage"
    assert page.get_by_label("close_value").input_value() == "amount"
    assert page.get_by_label("sales_agent").input_value() == "deal_owner"
    assert page.get_by_label("engage_date").input_value() == "created_at"
    # Every value of the whole file, with its rows; Lost is a lost deal, Won a won one.
    counts = Counter(row["deal_stage"] for row in raw)
    for value in ("Won", "Lost", "Engaging", "Prospecting"):
        row = page.locator(f'tr[data-stage-value="{value}"]')
        assert row.locator("td").nth(1).inner_text() == str(counts[value])
    assert page.get_by_label("Lost:", exact=True).input_value() == "nurture<opportunity"
    page.get_by_label("Reason for Lost").select_option("no_decision")
    page.get_by_label("Engaging:", exact=True).select_option("opportunity@proposal")
    # The agents matching nobody are listed before the import starts: Darcel is not.
    owners = page.locator("tr[data-owner]")
    agents = {row["sales_agent"] for row in raw}
    assert owners.count() == len(agents) - 1
    assert page.locator('tr[data-owner="Darcel Schlecht"]').count() == 0
    chosen = next(a for a in sorted(agents) if a != "Darcel Schlecht")
    page.get_by_label(f"{chosen}:", exact=True).select_option("rep")
    page.get_by_role("button", name="Preview").click()

    page.wait_for_url("**/preview/")
    # The test's worker is eager: the import runs within the request that starts it.
    page.get_by_role("button", name="Start import").click(no_wait_after=True)
    page.wait_for_url("**/imports/*/", timeout=180_000)
    page.get_by_role("heading", name="Done").wait_for(timeout=120_000)
    job = ImportJob.objects.get()
    assert (job.created, job.failed) == (len(raw), 0)

    # /pipeline/: the open deals, per stage, with their value.
    page.goto("/pipeline/")
    for slug, value in (("proposal", "Engaging"), ("discovery", "Prospecting")):
        column = page.locator(f'section[data-stage="{slug}"]')
        assert column.locator("[data-count]").inner_text() == str(counts[value])
    # Won revenue per owner, from the deals the import made.
    won = Opportunity.objects.filter(status="won")
    assert won.count() == counts["Won"]
    for user, agent in ((rep, chosen), (darcel, "Darcel Schlecht")):
        expected = sum(
            Decimal(r["close_value"])
            for r in raw
            if r["deal_stage"] == "Won" and r["sales_agent"] == agent
        )
        assert sum(d.amount for d in won.filter(owner=user)) == expected
    # The others were left unassigned, as chosen by default.
    assert won.filter(owner__isnull=True).count() == sum(
        r["deal_stage"] == "Won" and r["sales_agent"] not in (chosen, "Darcel Schlecht")
        for r in raw
    )

    # A lost deal's lead page tells its story: into opportunity, then lost, with the reason.
    lost_id = next(r["opportunity_id"] for r in raw if r["deal_stage"] == "Lost")
    lead = Lead.objects.get(external_id=lost_id)
    page.goto(f"/leads/{lead.pk}/")
    timeline = page.locator("main")
    assert "No decision" in timeline.inner_text()
    verbs = list(lead.transitions.order_by("at", "id").values_list("verb", "to_stage"))
    assert verbs == [("import", "opportunity"), ("lose", "nurture")]
    assert Transition.objects.filter(verb="lose").count() == counts["Lost"]
    assert SlaBreach.objects.count() == 0
