"""The upload flow in headless Chromium: upload, map, preview, start, progress, result."""

import pytest

from campaigns.imports.models import ImportJob
from leads.models import Lead
from tests.conftest import log_in

pytestmark = pytest.mark.browser

CSV = (
    "E-mail Address,First Name,Company Name,Deal Stage,Close Date\n"
    "ann@example.com,Ann,Acme,Won,13/02/2024\n"
    'bob@example.com,Bob,=HYPERLINK("x"),Engaging,\n'
    "nobody,Nia,None,Won,\n"
)


@pytest.fixture
def eager_tasks():
    """The live server runs the queued import in-process when its request commits."""
    from config.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


def test_a_marketer_uploads_maps_and_watches_an_import(
    page, marketer, campaign, eager_tasks, tmp_path
):
    path = tmp_path / "webinar.csv"
    path.write_text(CSV, encoding="utf-8")
    log_in(page, "marketer")
    page.get_by_role("link", name="Imports").click()
    page.get_by_role("link", name="Upload a CSV file").click()

    page.get_by_label("CSV file").set_input_files(str(path))
    page.get_by_label("Campaign").select_option(label="Spring webinar")
    page.get_by_label("Stage").select_option("mql")
    page.get_by_role("button", name="Upload").click()

    page.wait_for_url("**/mapping/")
    assert page.get_by_label("E-mail Address").input_value() == "email"
    assert page.get_by_label("Deal Stage").input_value() == "stage"
    assert page.get_by_label("Engaging:", exact=True).input_value() == "opportunity"
    assert page.get_by_label("Dates").input_value() == "1"
    page.get_by_role("button", name="Preview").click()

    page.wait_for_url("**/preview/")
    assert page.get_by_text("'nobody' is not a valid e-mail address.").is_visible()
    page.get_by_role("button", name="Start import").click()

    page.wait_for_url("**/imports/*/")
    progress = page.get_by_label("Progress")
    assert progress.get_attribute("max") == "3"
    page.get_by_role("heading", name="Done").wait_for()
    assert progress.get_attribute("value") == "3"
    assert page.locator(".bucket", has_text="created").inner_text().startswith("2")
    assert page.locator(".bucket", has_text="failed").inner_text().startswith("1")

    with page.expect_download() as download:
        page.get_by_role("link", name="Download the error report").click()
    report = download.value.path().read_text()
    assert "nobody,Nia,None,Won,,4,E-mail Address,'nobody' is not a valid e-mail address." in report

    job = ImportJob.objects.get()
    assert (job.status, job.created, job.failed) == ("done", 2, 1)
    assert Lead.objects.get(email="ann@example.com").stage == "customer"
    assert Lead.objects.get(email="bob@example.com").company == '=HYPERLINK("x")'

    page.get_by_role("link", name="Imports").first.click()
    assert page.get_by_role("link", name="webinar.csv").is_visible()


def test_a_sales_rep_cannot_open_the_upload_page(page, rep):
    log_in(page, "rep")
    assert page.get_by_role("link", name="Imports").count() == 0
    response = page.goto("/imports/new/")
    assert response.status == 403
