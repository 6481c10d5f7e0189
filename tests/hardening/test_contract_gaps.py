"""Contract gaps the probe and the new-user trial found: the API's own links work with the
API's own auth, personal data is not cached, the capture form's 429 says when to come back,
HEAD of a landing page answers like GET, and the site has a favicon."""

import io
import re

import pytest
from django.core.cache import caches
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from campaigns.capture import rate_key
from campaigns.imports.models import ImportRowError
from campaigns.imports.services import import_job_create

pytestmark = pytest.mark.django_db

PRIVATE = "private, no-store"


def token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


def session_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def failed_job(marketer, settings, tmp_path):
    settings.HANDOFF_IMPORT_DIR = str(tmp_path)
    job = import_job_create(
        user=marketer,
        upload=io.BytesIO(b"Email,Company\nann@example.com,Acme\nnot-an-email,=HYPERLINK()\n"),
        file_name="leads.csv",
    )
    ImportRowError.objects.create(
        job=job,
        line=3,
        column="Email",
        message="'not-an-email' is not an e-mail address.",
        cells=["not-an-email", "=HYPERLINK()"],
    )
    job.failed = 1
    job.save(update_fields=["failed"])
    return job


# --- the API's links with the API's auth ----------------------------------------------------


def test_a_token_client_follows_error_report_url_to_the_csv(marketer, failed_job):
    client = token_client(marketer)
    url = client.get(f"/api/imports/{failed_job.pk}/").json()["error_report_url"]
    assert url == f"http://testserver/api/imports/{failed_job.pk}/errors.csv"

    response = client.get(url)
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode()
    assert text.splitlines() == [
        "Email,Company,error line,error column,error reason",
        "not-an-email,'=HYPERLINK(),3,Email,'not-an-email' is not an e-mail address.",
    ]


def test_the_api_report_refuses_in_the_api_s_shape(rep, failed_job):
    path = f"/api/imports/{failed_job.pk}/errors.csv"
    anonymous = APIClient().get(path, HTTP_ACCEPT="text/csv")
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "not_authenticated"
    refused = token_client(rep).get(path)
    assert refused.status_code == 403
    assert refused.json()["code"] == "permission_denied"
    missing = token_client(rep).get("/api/imports/999999/errors.csv")
    assert missing.status_code in (403, 404)


def test_the_page_s_report_still_wants_a_session(marketer, failed_job):
    path = f"/imports/{failed_job.pk}/errors.csv"
    assert session_client(marketer).get(path).status_code == 200
    assert token_client(marketer).get(path).status_code == 302  # the login page


# --- Cache-Control ---------------------------------------------------------------------------


def test_pages_and_api_answers_for_a_signed_in_user_are_private_and_not_stored(
    rep, make_lead, failed_job, marketer
):
    lead = make_lead("mql", owner=rep)
    session = session_client(rep)
    for path in ("/", "/leads/", f"/leads/{lead.pk}/", "/queue/", "/api/leads/"):
        response = session.get(path)
        assert response.status_code == 200, path
        assert response["Cache-Control"] == PRIVATE, path
    token = token_client(rep)
    for path in ("/api/leads/", f"/api/leads/{lead.pk}/", "/api/funnel/"):
        response = token.get(path)
        assert response.status_code == 200, path
        assert response["Cache-Control"] == PRIVATE, path
    report = token_client(marketer).get(f"/api/imports/{failed_job.pk}/errors.csv")
    assert report["Cache-Control"] == PRIVATE
    # A refusal to a signed-in user says who they are and what exists: private too.
    assert token_client(marketer).get("/api/leads/999999/")["Cache-Control"] == PRIVATE


def test_public_answers_are_left_to_cache_as_they_say(campaign):
    anonymous = Client()
    landing = anonymous.get(f"/f/{campaign.slug}/")
    assert landing.status_code == 200
    assert "no-store" not in landing.get("Cache-Control", "")
    favicon = anonymous.get("/favicon.ico")
    assert "private" not in favicon.get("Cache-Control", "")


# --- the capture form's 429 -----------------------------------------------------------------


def test_the_capture_form_s_429_says_when_to_come_back(client, campaign, settings):
    settings.HANDOFF_CAPTURE_RATE_LIMIT = 1
    settings.HANDOFF_CAPTURE_RATE_WINDOW = 600
    caches["capture"].delete(rate_key("127.0.0.1"))
    form = {"email": "ann@example.com", "first_name": "Ann"}
    assert client.post(f"/f/{campaign.slug}/", form).status_code == 302
    response = client.post(f"/f/{campaign.slug}/", {**form, "email": "bo@example.com"})
    assert response.status_code == 429
    seconds = int(response["Retry-After"])
    assert 590 <= seconds <= 600
    assert re.search(r"try again within 10 minutes", response.content.decode())
    caches["capture"].delete(rate_key("127.0.0.1"))


# --- HEAD and the favicon ---------------------------------------------------------------------


def test_head_of_a_landing_page_answers_like_get_without_a_body(client, campaign):
    get = client.get(f"/f/{campaign.slug}/")
    head = client.head(f"/f/{campaign.slug}/")
    assert head.status_code == 200
    assert head.content == b""
    assert head["Content-Type"] == get["Content-Type"]
    assert head["Content-Security-Policy"] == get["Content-Security-Policy"]
    assert client.head("/f/no-such-campaign/").status_code == 404


def test_the_site_has_a_favicon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] in ("image/x-icon", "image/vnd.microsoft.icon")
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert body[:4] == b"\x00\x00\x01\x00"  # an ICO file
