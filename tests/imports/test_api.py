"""POST /api/imports/ and GET /api/imports/{id}/ as DESIGN.md section 3 says."""

import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from campaigns.imports.models import ImportJob

from .conftest import run

pytestmark = pytest.mark.django_db

CSV = b"Email,First Name,Stage\nann@example.com,Ann,Won\nbad,Bob,\n"


def post(client, content=CSV, **data):
    data["file"] = SimpleUploadedFile("leads.csv", content, content_type="text/csv")
    return client.post("/api/imports/", data, format="multipart")


def test_it_queues_an_upload_and_answers_202_with_the_job(api, marketer, campaign):
    response = post(api(marketer), campaign=campaign.slug, stage="mql", dayfirst="false")
    assert response.status_code == 202, response.json()
    body = response.json()
    assert (body["status"], body["total"], body["processed"]) == ("queued", 2, 0)
    assert body["campaign"] == "spring-webinar"
    job = ImportJob.objects.get(pk=body["id"])
    assert (job.default_stage, job.dayfirst, job.created_by) == ("mql", False, marketer)


def test_it_reports_the_outcome_with_errors_and_the_error_report(api, marketer):
    body = post(api(marketer)).json()
    run(ImportJob.objects.get(pk=body["id"]))
    response = api(marketer).get(f"/api/imports/{body['id']}/")
    assert response.status_code == 200
    result = response.json()
    assert {k: result[k] for k in ("status", "total", "processed", "created", "failed")} == {
        "status": "done",
        "total": 2,
        "processed": 2,
        "created": 1,
        "failed": 1,
    }
    assert result["errors"] == [
        {"line": 3, "column": "Email", "message": "'bad' is not a valid e-mail address."}
    ]
    assert result["error_report_url"].endswith(f"/imports/{body['id']}/errors.csv")


def test_it_takes_a_mapping_and_stage_values(api, manager):
    content = b"Mail,Phase\nann@example.com,Hot\n"
    response = post(
        api(manager),
        content,
        mapping=json.dumps({"email": "Mail", "stage": "Phase"}),
        stage_values=json.dumps({"Hot": "sql"}),
    )
    assert response.status_code == 202, response.json()
    job = run(ImportJob.objects.get(pk=response.json()["id"]))
    assert job.created == 1
    assert job.mapping == {"Mail": "email", "Phase": "stage"}


def test_it_answers_413_over_the_size_limit_before_writing(api, marketer, settings):
    settings.HANDOFF_IMPORT_MAX_BYTES = 20
    response = post(api(marketer))
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    assert not ImportJob.objects.exists()


def test_it_answers_413_from_the_content_length_alone(api, marketer, settings):
    settings.HANDOFF_IMPORT_MAX_BYTES = 1
    response = post(api(marketer), b"Email\n" + b"a@example.com\n" * 6000)
    assert response.status_code == 413
    assert response.json() == {
        "detail": "The file is larger than 0 MB; split it into smaller files.",
        "code": "too_large",
    }


def test_it_answers_413_over_the_row_limit(api, marketer, settings):
    settings.HANDOFF_IMPORT_MAX_ROWS = 1
    response = post(api(marketer))
    assert response.status_code == 413
    assert response.json()["detail"].startswith("The file has more than 1 data rows")


@pytest.mark.parametrize(
    ("content", "extra", "detail"),
    [
        (b"\x00\x01\x02\x03binary\x00", {}, "This is not a CSV file: it contains binary data."),
        (b"Email\n", {}, "The file has a header but no data rows."),
        (
            b"Name,Company\nAnn,Acme\n",
            {},
            "Map a column to e-mail or to external id: they identify the leads.",
        ),
        (CSV, {"mapping": "[1, 2]"}, "mapping: Send a JSON object."),
        (CSV, {"mapping": '{"email": "Nope"}'}, "The file has no column 'Nope' (for email)."),
        (CSV, {"campaign": "no-such"}, "No campaign with the slug 'no-such'."),
        (
            CSV,
            {"stage_values": '{"Won": "winner"}'},
            "stage_values['Won']: 'winner' is not a stage.",
        ),
    ],
    ids=["binary", "header-only", "no-identity", "bad-json", "no-column", "campaign", "stage"],
)
def test_it_refuses_bad_uploads_with_400(api, marketer, content, extra, detail):
    response = post(api(marketer), content, **extra)
    assert response.status_code == 400
    assert response.json()["detail"] == detail
    assert not ImportJob.objects.exists()


def test_it_refuses_other_roles(api, rep, nobody):
    assert post(api(rep)).status_code == 403
    assert post(api(nobody)).status_code == 403
    assert post(api()).status_code in (401, 403)
    assert not ImportJob.objects.exists()


def test_it_hides_jobs_from_other_roles_and_answers_404_for_none(api, marketer, rep):
    job_id = post(api(marketer)).json()["id"]
    assert api(rep).get(f"/api/imports/{job_id}/").status_code == 403
    assert api(marketer).get("/api/imports/999999/").status_code == 404


def test_the_schema_documents_the_endpoints(api, manager):
    response = api(manager).get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    paths = json.load(io.BytesIO(response.content))["paths"]
    assert "/api/imports/" in paths and "/api/imports/{id}/" in paths
