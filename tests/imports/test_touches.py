"""Imported UTM columns (utm_source, utm_medium, utm_campaign, utm_term, utm_content, gclid)
are the touch of the import's campaign membership: first and last touch on the lead, in
both import engines (PostgreSQL's set-wise merge and the ORM's batches)."""

import pytest

from campaigns.imports import engine as engine_module
from campaigns.imports.engine.orm import run_orm
from campaigns.imports.mapping import auto_mapping
from campaigns.imports.services import ImportRefused
from campaigns.models import CampaignMembership
from funnel.services import lead_create
from leads.models import Lead
from leads.touches import lead_touches

from .conftest import counts, errors_of, import_csv, upload

pytestmark = pytest.mark.django_db(transaction=True)

HEADER = "Email,First Name,utm_source,UTM Medium,utm_campaign,utm_term,utm_content,GCLID\n"


@pytest.fixture(params=["native", "orm"])
def engine(request, monkeypatch):
    """The database's own engine (PostgreSQL's on PostgreSQL), and the ORM path on it too."""
    if request.param == "orm":
        monkeypatch.setattr(engine_module, "run_postgresql", run_orm)
    return request.param


def membership(email: str, campaign) -> CampaignMembership:
    return CampaignMembership.objects.get(lead__email=email, campaign=campaign)


def test_it_maps_utm_headers_to_the_touch_not_to_the_source():
    mapping = auto_mapping(
        ["Email", "utm_source", "UTM Medium", "utm-campaign", "Keyword", "Ad Content", "gclid"]
    )
    assert mapping == {
        "Email": "email",
        "utm_source": "utm_source",
        "UTM Medium": "utm_medium",
        "utm-campaign": "utm_campaign",
        "Keyword": "utm_term",
        "Ad Content": "utm_content",
        "gclid": "gclid",
    }


def test_it_gives_imported_leads_their_touch(engine, campaign):
    job = import_csv(
        HEADER
        + "ada@example.com,Ada,google,cpc,spring,crm,banner-a,Cj0-1\n"
        + "grace@example.com,Grace,,,,,,\n",
        campaign=campaign,
        start=True,
    )
    assert job.status == "done", job.failure
    assert counts(job) == (2, 0, 0, 0)
    ada = Lead.objects.get(email="ada@example.com")
    assert ada.attributes == {}  # the touch columns are not kept as attributes
    first, last = lead_touches(ada)
    expected = {
        "campaign": "spring-webinar",
        "channel": "webinar",
        "utm_source": "google",
        "utm_medium": "cpc",
        "utm_campaign": "spring",
        "utm_term": "crm",
        "utm_content": "banner-a",
        "gclid": "Cj0-1",
        "referrer": "",
        "landing_page": "",
        "at": job.started_at,
    }
    assert {k: first[k] for k in expected} == expected
    assert last == first
    grace = membership("grace@example.com", campaign)
    assert (grace.first_attribution, grace.last_attribution) == (None, None)


def test_it_moves_the_last_touch_on_a_later_import_and_keeps_the_first(engine, campaign):
    import_csv(
        HEADER + "ada@example.com,Ada,google,cpc,spring,,,G-1\n", campaign=campaign, start=True
    )
    # Same lead fields, a new touch: the membership is touched although the lead is unchanged.
    second = import_csv(
        HEADER + "ada@example.com,Ada,linkedin,social,autumn,,,\n", campaign=campaign, start=True
    )
    assert counts(second)[:2] == (0, 0)
    row = membership("ada@example.com", campaign)
    assert row.first_attribution == {
        "utm_source": "google",
        "utm_medium": "cpc",
        "utm_campaign": "spring",
        "gclid": "G-1",
    }
    assert row.last_attribution == {
        "utm_source": "linkedin",
        "utm_medium": "social",
        "utm_campaign": "autumn",
    }
    assert (row.touches, row.touched_at) == (2, second.started_at)
    # The same file again changes nothing and is no new touch.
    import_csv(
        HEADER + "ada@example.com,Ada,linkedin,social,autumn,,,\n", campaign=campaign, start=True
    )
    assert membership("ada@example.com", campaign).touches == 2


def test_an_existing_lead_joins_with_its_touch_and_the_last_row_wins(engine, campaign):
    lead_create(system_actor="test", fields={"email": "old@example.com", "first_name": "Old"})
    job = import_csv(
        HEADER
        + "old@example.com,Old,bing,cpc,first,,,\n"
        + "new@example.com,New,google,,,,,\n"
        + "OLD@example.com,,facebook,,,,,\n",
        campaign=campaign,
        start=True,
    )
    assert job.status == "done", job.failure
    # Per column, the later row's value wins; a blank cell keeps the earlier one.
    expected = {"utm_source": "facebook", "utm_medium": "cpc", "utm_campaign": "first"}
    old = membership("old@example.com", campaign)
    assert (old.first_attribution, old.last_attribution, old.how) == (expected, expected, "import")
    assert membership("new@example.com", campaign).first_attribution == {"utm_source": "google"}


def test_it_reports_an_overlong_utm_value_as_a_row_error(engine, campaign):
    job = import_csv(
        HEADER + f"ada@example.com,Ada,{'x' * 151},,,,,\n", campaign=campaign, start=True
    )
    assert counts(job) == (0, 0, 0, 1)
    assert errors_of(job) == [
        (2, "utm_source", "The value is 151 characters long; utm_source takes at most 150.")
    ]


def test_it_refuses_touch_columns_without_a_campaign(db):
    with pytest.raises(ImportRefused, match="Choose the campaign of this import: its utm_source"):
        upload("Email,utm_source\nada@example.com,google\n", start=True)
    assert Lead.objects.count() == 0


def test_it_imports_touch_columns_named_in_the_api_mapping(engine, campaign, api, marketer):
    response = api(marketer).post(
        "/api/imports/",
        {
            "file": _file("Email,Where,Ad\nada@example.com,newsletter,G-9\n"),
            "campaign": campaign.slug,
            "mapping": '{"email": "Email", "utm_source": "Where", "gclid": "Ad"}',
        },
        format="multipart",
    )
    assert response.status_code in (201, 202), response.json()
    from campaigns.imports.models import ImportJob
    from campaigns.imports.services import import_job_run

    job = ImportJob.objects.get()
    if job.status == "queued":
        job = import_job_run(job_id=job.pk)
    assert membership("ada@example.com", campaign).first_attribution == {
        "utm_source": "newsletter",
        "gclid": "G-9",
    }


def _file(text: str):
    import io

    handle = io.BytesIO(text.encode())
    handle.name = "leads.csv"
    return handle


def test_the_mapping_page_offers_the_touch_columns_and_says_they_need_a_campaign(
    client, marketer, campaign
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from campaigns.imports.models import ImportJob

    client.force_login(marketer)
    content = b"Email,UTM Source,GCLID\nada@example.com,google,G-1\n"
    client.post(
        "/imports/new/",
        {"file": SimpleUploadedFile("ads.csv", content), "stage": "suspect"},
    )
    job = ImportJob.objects.get()
    assert job.mapping == {"Email": "email", "UTM Source": "utm_source", "GCLID": "gclid"}
    page = client.get(f"/imports/{job.pk}/mapping/").content.decode()
    assert '<option value="utm_source" selected>UTM source</option>' in page
    assert '<option value="gclid" selected>Google click id (gclid)</option>' in page
    form = {
        "column_0": "email",
        "column_1": "utm_source",
        "column_2": "gclid",
        "dayfirst": "",
        "on_duplicate": "update",
        "default_stage": "suspect",
    }
    response = client.post(f"/imports/{job.pk}/mapping/", form)
    assert response.status_code == 400
    assert "Choose the campaign of this import: its utm_source, gclid columns" in (
        response.content.decode()
    )
    assert client.post(f"/imports/{job.pk}/start/").status_code in (302, 400)
    job.refresh_from_db()
    assert job.status == "uploaded"  # never started
