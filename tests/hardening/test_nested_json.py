"""A JSON body nested too deeply for Python's decoder is a 400 in the API's error shape.

The body `{"username": [[[[...` (thousands of levels, a few kilobytes, well under the capture
endpoint's 32 KB cap) made json.loads raise RecursionError, which DRF's parser does not catch:
every JSON endpoint answered 500, the unauthenticated ones included.
"""

import json

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from campaigns.models import CaptureSubmission
from leads.models import Lead

pytestmark = pytest.mark.django_db

DEPTH = 50_000


def nested(field: str = "username", depth: int = DEPTH) -> str:
    return f'{{"{field}": {"[" * depth}{"]" * depth}}}'


def short_nested(field: str) -> str:
    """Deep enough to break the decoder, short enough for the capture endpoint's 32 KB cap."""
    depth = 15_000
    text = nested(field, depth)
    assert len(text.encode()) < 32_768
    return text


def token_client(user) -> APIClient:
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def assert_refused_as_bad_input(response):
    assert response.status_code == 400, response.content[:300]
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == "parse_error"
    assert "nested too deeply" in body["detail"]


def test_it_answers_400_to_a_nested_body_at_the_token_endpoint_without_a_login(db):
    response = APIClient(raise_request_exception=False).post(
        "/api/auth/token/", nested(), content_type="application/json"
    )
    assert_refused_as_bad_input(response)


def test_it_answers_400_to_a_nested_body_when_creating_a_lead(marketer):
    response = token_client(marketer).post(
        "/api/leads/", nested("email"), content_type="application/json"
    )
    assert_refused_as_bad_input(response)
    assert not Lead.objects.exists()


def test_it_answers_400_to_a_nested_body_under_the_capture_cap(campaign):
    response = APIClient(raise_request_exception=False).post(
        f"/api/capture/{campaign.slug}/",
        short_nested("email"),
        content_type="application/json",
        HTTP_X_CAPTURE_TOKEN=campaign.capture_token,
    )
    assert_refused_as_bad_input(response)
    assert not CaptureSubmission.objects.exists()


def test_it_answers_400_to_a_nested_body_on_every_json_endpoint(manager, make_lead):
    lead = make_lead("mql")
    client = token_client(manager)
    for method, path in [
        ("patch", f"/api/leads/{lead.pk}/"),
        ("post", f"/api/leads/{lead.pk}/transitions/"),
        ("post", "/api/leads/bulk-transitions/"),
        ("post", "/api/campaigns/"),
    ]:
        response = getattr(client, method)(path, nested("to"), content_type="application/json")
        assert_refused_as_bad_input(response)


def test_it_refuses_a_nested_mapping_in_an_import_upload_as_a_field_error(
    marketer, settings, tmp_path
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.HANDOFF_IMPORT_DIR = str(tmp_path)
    response = token_client(marketer).post(
        "/api/imports/",
        {
            "file": SimpleUploadedFile("leads.csv", b"Email\nann@example.com\n", "text/csv"),
            "mapping": nested("email", 20_000),
        },
        format="multipart",
    )
    assert response.status_code == 400, response.content[:300]
    body = response.json()
    assert body["code"] == "invalid"
    assert body["errors"]["mapping"] == ["Send a JSON object."]


def test_a_body_nested_less_deeply_still_reads(marketer):
    body = {"email": "ann@example.com", "attributes": {"tags": [[["a"]]]}}
    response = token_client(marketer).post(
        "/api/leads/", json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 201, response.content
