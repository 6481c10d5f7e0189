"""What the fuzzers found, pinned as plain examples (each was a 500 or a failed import)."""

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from campaigns.imports import csvfile
from campaigns.imports.rows import RowCleaner
from campaigns.models import CaptureSubmission

pytestmark = pytest.mark.django_db


def token_client(user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def test_a_nul_in_a_capture_s_tracking_values_is_dropped(campaign):
    response = APIClient().post(
        "/api/capture/spring-webinar/",
        {
            "email": "ann@example.com",
            "utm_source": "news\x00letter",
            "page_url": "https://a.example/\x00page?gclid=g%001",
        },
        format="json",
        HTTP_X_CAPTURE_TOKEN=campaign.capture_token,
    )
    assert response.status_code == 201, response.content
    submission = CaptureSubmission.objects.get()
    assert (submission.utm_source, submission.gclid) == ("newsletter", "g1")
    assert "\x00" not in submission.referrer


def test_a_nul_in_a_looked_up_value_is_a_400(marketer):
    response = token_client(marketer).post(
        "/api/campaigns/",
        {"name": "Autumn", "channel": "webinar", "owner": "mark\x00eter"},
        format="json",
    )
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid"


def test_a_request_django_refuses_before_the_view_is_a_json_400(rep, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    response = token_client(rep).post(
        "/api/leads/bulk-transitions/",
        "&".join(f"field{n}=x" for n in range(20)),
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["code"] in ("bad_request", "invalid")


def test_sniffing_a_line_with_a_lone_carriage_return_does_not_crash():
    assert csvfile.sniff_delimiter('a;b\r"c;d\nx;y\n') in csvfile.DELIMITERS


def test_a_header_named_like_a_renamed_repeat_stays_unique():
    assert csvfile.header_columns(["a", "a (2)", "a"]) == ["a", "a (2)", "a (3)"]


def test_a_company_size_past_the_column_and_a_nul_cell_are_row_errors():
    cleaner = RowCleaner(
        columns=["Email", "Company size", "City"],
        mapping={"Email": "email", "Company size": "company_size", "City": "city"},
        stage_values={},
        default_stage="suspect",
        dayfirst=False,
        max_cell=100,
    )
    row = cleaner.clean(2, ["ann@example.com", "2200000000", "Ber\x00lin"])
    assert [column for column, _ in row.errors] == ["Company size", "City"]
    assert cleaner.clean(3, ["ann@example.com", "2147483647", "Berlin"]).errors == []


def test_a_username_longer_than_any_user_s_is_a_400_at_the_token_endpoint(db):
    response = APIClient().post(
        "/api/auth/token/", {"username": "u" * 300, "password": "whatever"}, format="json"
    )
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid"
