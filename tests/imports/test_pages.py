"""The upload pages without a browser: access, the mapping, the preview, the error report."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from campaigns.imports.models import ImportJob

from .conftest import run

pytestmark = pytest.mark.django_db

CSV = b"E-mail Address,Given Name,Status,Notes\nann@example.com,Ann,Won,=1+1\nbad,Bob,Zombie,-2\n"


@pytest.fixture
def signed_in(client):
    def sign_in(user):
        client.force_login(user)
        return client

    return sign_in


def upload(client, content=CSV, **extra):
    data = {"file": SimpleUploadedFile("list.csv", content), "stage": "suspect", **extra}
    return client.post("/imports/new/", data)


@pytest.mark.parametrize("path", ["/imports/", "/imports/new/"])
def test_other_roles_get_403(signed_in, rep, nobody, path):
    assert signed_in(rep).get(path).status_code == 403
    assert signed_in(nobody).get(path).status_code == 403


def test_a_marketer_uploads_maps_previews_and_starts(signed_in, marketer, campaign):
    client = signed_in(marketer)
    page = client.get("/imports/new/")
    assert b'<label for="id_file">CSV file:</label>' in page.content
    response = upload(client, campaign=campaign.pk)
    job = ImportJob.objects.get()
    assert response.status_code == 302 and response.url == f"/imports/{job.pk}/mapping/"
    assert job.mapping["E-mail Address"] == "email"
    assert job.mapping["Status"] == "stage"

    mapping = client.get(response.url)
    assert b"ann@example.com" in mapping.content and b"Zombie" in mapping.content
    form = {
        "column_0": "email",
        "column_1": "first_name",
        "column_2": "stage",
        "column_3": "attribute",
        "stage_value_0": "customer",
        "stage_value_1": "",
        "dayfirst": "",
        "on_duplicate": "update",
        "default_stage": "suspect",
    }
    response = client.post(f"/imports/{job.pk}/mapping/", form)
    assert response.status_code == 302 and response.url == f"/imports/{job.pk}/preview/"

    preview = client.get(response.url)
    assert preview.context["preview"].created == 1
    assert preview.context["preview"].failed == 1
    assert b"Unknown stage &#x27;Zombie&#x27;: map it to a Handoff stage." in preview.content
    # An undecided value cannot start an import.
    assert b"Undecided stage values" in preview.content
    assert b'class="primary" disabled>Start import' in preview.content
    response = client.post(f"/imports/{job.pk}/start/")
    assert response.url == f"/imports/{job.pk}/mapping/"
    job.refresh_from_db()
    assert job.status == "uploaded"
    # Decided as an outcome: reached SQL, disqualified for no budget.
    form.update({"stage_value_1": "nurture<sql", "stage_value_1_reason": "no_budget"})
    response = client.post(f"/imports/{job.pk}/mapping/", form)
    assert response.status_code == 302, response.content
    job.refresh_from_db()
    assert job.stage_values["Zombie"] == {
        "stage": "nurture",
        "reached": "sql",
        "reason": "no_budget",
    }
    preview = client.get(response.url)
    assert b"Start import" in preview.content and b"Undecided" not in preview.content

    response = client.post(f"/imports/{job.pk}/start/")
    assert response.status_code == 302 and response.url == f"/imports/{job.pk}/"
    job.refresh_from_db()
    assert job.status == "queued"
    assert client.post(f"/imports/{job.pk}/start/").status_code == 302
    assert client.get(f"/imports/{job.pk}/mapping/").url == f"/imports/{job.pk}/"


def test_the_mapping_page_refuses_a_mapping_without_identity(signed_in, manager):
    client = signed_in(manager)
    upload(client)
    job = ImportJob.objects.get()
    form = {
        "column_0": "attribute",
        "column_1": "first_name",
        "column_2": "ignore",
        "column_3": "ignore",
        "dayfirst": "",
        "on_duplicate": "update",
        "default_stage": "suspect",
    }
    response = client.post(f"/imports/{job.pk}/mapping/", form)
    assert response.status_code == 400
    assert b"Map a column to e-mail or to external id" in response.content


def test_a_bad_file_is_refused_on_the_upload_page(signed_in, marketer, settings):
    client = signed_in(marketer)
    response = upload(client, b"\x89PNG\x00\x00\x00binary")
    assert response.status_code == 400
    assert b"This is not a CSV file: it contains binary data." in response.content
    settings.HANDOFF_IMPORT_MAX_BYTES = 10
    assert upload(client).status_code == 413
    assert not ImportJob.objects.exists()


def test_the_result_page_and_error_report(signed_in, marketer, rep):
    client = signed_in(marketer)
    upload(client)
    job = run(ImportJob.objects.get())
    page = client.get(f"/imports/{job.pk}/")
    assert b"Download the error report" in page.content
    assert b'<progress id="import-progress" max="2" value="2">' in page.content
    report = client.get(f"/imports/{job.pk}/errors.csv")
    assert report["Content-Disposition"] == 'attachment; filename="list-errors.csv"'
    lines = b"".join(report.streaming_content).decode().splitlines()
    assert lines == [
        "E-mail Address,Given Name,Status,Notes,error line,error column,error reason",
        "bad,Bob,Zombie,'-2,3,E-mail Address,'bad' is not a valid e-mail address. "
        "Unknown stage 'Zombie': map it to a Handoff stage.",
    ]
    listing = client.get("/imports/")
    assert b"list.csv" in listing.content
    client.force_login(rep)
    assert client.get(f"/imports/{job.pk}/errors.csv").status_code == 403
    client.force_login(marketer)
    assert client.get("/imports/999999/").status_code == 404


def test_the_progress_fragment_polls_while_running(signed_in, marketer):
    client = signed_in(marketer)
    upload(client)
    job = ImportJob.objects.get()
    ImportJob.objects.filter(pk=job.pk).update(status="running", total=2, processed=1)
    fragment = client.get(f"/imports/{job.pk}/", HTTP_HX_REQUEST="true")
    assert b'hx-trigger="every 1s"' in fragment.content
    assert b"<html" not in fragment.content
    assert b'value="1"' in fragment.content


def test_a_too_large_upload_is_refused_from_its_headers(marketer, settings):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(marketer)
    settings.HANDOFF_IMPORT_MAX_BYTES = 1
    response = upload(client, b"Email\n" + b"a@example.com\n" * 6000)
    assert response.status_code == 413
    assert b"The file is larger than 0 MB" in response.content
    # Under the limit the CSRF check applies as usual.
    settings.HANDOFF_IMPORT_MAX_BYTES = 10_000_000
    assert upload(client).status_code == 403


def test_the_mapping_page_lists_the_whole_files_values_and_unmatched_owners(
    signed_in, manager, rep
):
    rows = ["Id,Deal Stage,Sales Agent,Close Value"]
    rows += [f"A{n},Won,rep,10" for n in range(1200)]
    rows += ["B1,Prospecting,Moses Frase,5", "B2,Weird,Moses Frase,", "B3,Lost,Rep@Example.com,1"]
    client = signed_in(manager)
    upload(client, content="\n".join(rows).encode())
    job = ImportJob.objects.get()
    assert len(job.sample) < 1200  # the values below are past the sample
    page = client.get(f"/imports/{job.pk}/mapping/")
    stage_rows = [
        (value, count) for _field, value, count, _reason in page.context["form"].stage_fields
    ]
    assert stage_rows == [("Won", 1200), ("Lost", 1), ("Prospecting", 1), ("Weird", 1)]
    text = page.content.decode()
    assert '<option value="nurture&lt;opportunity" selected>' in text  # Lost: a lost deal
    assert '<option value="opportunity@discovery" selected>' in text  # Salesforce preset
    # "rep" and rep's e-mail match the user; Moses Frase matches nobody and is asked about.
    owners = [(owner, rows) for _f, owner, rows in page.context["form"].owner_fields]
    assert owners == [("Moses Frase", 2)]
    form = {
        "column_0": "external_id",
        "column_1": "stage",
        "column_2": "deal_owner",
        "column_3": "amount",
        "stage_value_0": "customer",
        "stage_value_1": "nurture<opportunity",
        "stage_value_1_reason": "price",
        "stage_value_2": "opportunity@discovery",
        "stage_value_3": "",
        "owner_0": "rep",
        "assign_open_mqls": "on",
        "dayfirst": "",
        "on_duplicate": "update",
        "default_stage": "suspect",
    }
    response = client.post(f"/imports/{job.pk}/mapping/", form)
    assert response.status_code == 302
    job.refresh_from_db()
    assert (job.owner_choices, job.assign_open_mqls) == ({"Moses Frase": "rep"}, True)
    preview = client.get(response.url)
    assert (
        "Undecided stage values (choose what each means on the mapping page): &#x27;Weird&#x27;."
        in (preview.content.decode())
    )
    form["stage_value_3"] = "junk<mql"
    client.post(f"/imports/{job.pk}/mapping/", form)
    assert client.post(f"/imports/{job.pk}/start/").url == f"/imports/{job.pk}/"
    job = run(ImportJob.objects.get(pk=job.pk))
    from funnel.models import Opportunity

    assert job.failed == 0
    # Won, Prospecting and Lost have deals (junk after MQL has none), all to rep.
    assert Opportunity.objects.filter(owner=rep).count() == 1202
    assert Opportunity.objects.get(lead__external_id="B3").status == "lost"
