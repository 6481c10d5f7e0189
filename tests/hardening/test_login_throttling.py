"""Login throttling (django-axes): the login page and the token endpoint lock out alike."""

import datetime as dt

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

PASSWORD = "pw-for-tests-only-1"
LIMIT = 3


@pytest.fixture(autouse=True)
def _small_limit(settings):
    settings.AXES_FAILURE_LIMIT = LIMIT
    settings.AXES_COOLOFF_TIME = 15 / 60


def log_in(client, username, password):
    return client.post("/accounts/login/", {"username": username, "password": password})


def get_token(username, password):
    return APIClient().post(
        "/api/auth/token/", {"username": username, "password": password}, format="json"
    )


def signed_in(client) -> bool:
    return client.get("/").status_code == 200


def test_it_answers_429_with_a_page_that_says_why_after_the_failure_limit(rep):
    client = Client()
    for _ in range(LIMIT - 1):
        response = log_in(client, "rep", "wrong")
        assert response.status_code == 200
        assert b"didn&#x27;t match" in response.content or b"didn't match" in response.content
    response = log_in(client, "rep", "wrong")
    assert response.status_code == 429
    body = response.content.decode()
    assert "Too many failed logins" in body
    assert f"After {LIMIT} failed attempts for rep" in body
    assert "15 minutes" in body
    assert response["Retry-After"] == "900"
    # The right password does not get through while the lockout lasts.
    response = log_in(client, "rep", PASSWORD)
    assert response.status_code == 429
    assert not signed_in(client)


def test_the_lockout_is_per_username_and_address_and_ends_after_the_cool_off(rep, rep2):
    client = Client()
    for _ in range(LIMIT):
        log_in(client, "rep", "wrong")
    assert log_in(client, "rep", PASSWORD).status_code == 429
    # Another user from the same address is not locked out by rep's failures.
    other = Client()
    assert log_in(other, "rep2", PASSWORD).status_code == 302
    assert signed_in(other)
    # The same user from another address is not locked either.
    elsewhere = Client(REMOTE_ADDR="10.0.0.9")
    assert log_in(elsewhere, "rep", PASSWORD).status_code == 302
    # A controlled clock: the failures now lie 16 minutes back, past the 15-minute cool-off.
    AccessAttempt.objects.update(attempt_time=timezone.now() - dt.timedelta(minutes=16))
    assert log_in(client, "rep", PASSWORD).status_code == 302
    assert signed_in(client)


def test_a_forged_forwarded_for_header_does_not_escape_the_lockout(rep):
    """The address is REMOTE_ADDR only: a client cannot pose as a fresh address per attempt."""
    for number in range(LIMIT + 2):
        forged = Client(HTTP_X_FORWARDED_FOR=f"203.0.113.{number}")
        response = log_in(forged, "rep", "wrong" if number < LIMIT else PASSWORD)
    assert response.status_code == 429


def test_a_successful_login_resets_the_count(rep):
    client = Client()
    for _ in range(LIMIT - 1):
        log_in(client, "rep", "wrong")
    assert log_in(client, "rep", PASSWORD).status_code == 302
    client.post("/accounts/logout/")
    for _ in range(LIMIT - 1):
        assert log_in(client, "rep", "wrong").status_code == 200
    assert log_in(client, "rep", PASSWORD).status_code == 302


def test_the_token_endpoint_is_throttled_too(rep):
    for _ in range(LIMIT - 1):
        response = get_token("rep", "wrong")
        assert response.status_code == 400
    response = get_token("rep", "wrong")
    assert response.status_code == 429
    assert response.json()["code"] == "locked_out"
    assert "Too many failed logins" in response.json()["detail"]
    # The right password gets no token while locked out...
    response = get_token("rep", PASSWORD)
    assert response.status_code == 429
    assert not Token.objects.filter(user=rep).exists()
    # ...and the login page shares the same count: no way round it through the other door.
    assert log_in(Client(), "rep", PASSWORD).status_code == 429


def test_failures_on_the_login_page_lock_the_token_endpoint(rep):
    client = Client()
    for _ in range(LIMIT):
        log_in(client, "rep", "wrong")
    assert get_token("rep", PASSWORD).status_code == 429


def test_a_good_token_request_still_works(rep):
    response = get_token("rep", PASSWORD)
    assert response.status_code == 200
    assert response.json()["token"] == Token.objects.get(user=rep).key


def test_force_login_and_session_logins_keep_working(rep, client):
    client.force_login(rep)
    assert signed_in(client)
    fresh = Client()
    assert log_in(fresh, "rep", PASSWORD).status_code == 302
    assert signed_in(fresh)


def test_it_is_configured_from_the_environment_and_listed_in_env_example():
    from pathlib import Path

    from django.conf import settings

    example = (Path(settings.BASE_DIR) / ".env.example").read_text()
    for name in (
        "HANDOFF_LOGIN_THROTTLING",
        "HANDOFF_LOGIN_FAILURE_LIMIT",
        "HANDOFF_LOGIN_COOLOFF_MINUTES",
    ):
        assert f"\n{name}=" in example
    assert settings.AUTHENTICATION_BACKENDS[0] == "axes.backends.AxesStandaloneBackend"
    assert settings.MIDDLEWARE[-1] == "axes.middleware.AxesMiddleware"


def test_a_token_can_be_revoked_and_then_stops_working(client, rep):
    token = client.post(
        "/api/auth/token/", {"username": "rep", "password": "pw-for-tests-only-1"}
    ).json()["token"]
    auth = {"HTTP_AUTHORIZATION": f"Token {token}"}
    assert client.get("/api/leads/", **auth).status_code == 200
    assert client.delete("/api/auth/token/", **auth).status_code == 204
    refused = client.get("/api/leads/", **auth)
    assert refused.status_code == 401
    assert refused.json()["code"] == "authentication_failed"
    assert client.delete("/api/auth/token/").status_code == 401
