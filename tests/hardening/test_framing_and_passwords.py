"""Framing: no page may be framed, except the public landing pages by the sites listed in
HANDOFF_FRAME_ANCESTORS (none by default). Passwords: Django's validators refuse weak ones."""

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.test import Client

from config.security import frame_ancestors_check, policy_framed_by

pytestmark = pytest.mark.django_db


def frame_ancestors(response) -> str:
    policy = response.headers["Content-Security-Policy"]
    return next(part.strip() for part in policy.split(";") if "frame-ancestors" in part)


def test_it_frames_no_landing_page_by_default(campaign, settings):
    assert settings.HANDOFF_FRAME_ANCESTORS == []
    for path in ("/f/spring-webinar/", "/f/spring-webinar/thanks/"):
        response = Client().get(path)
        assert response.status_code == 200
        assert response.headers["X-Frame-Options"] == "DENY"
        assert frame_ancestors(response) == "frame-ancestors 'none'"


def test_it_lets_the_listed_sites_frame_the_landing_page_and_nothing_else(
    campaign, settings, manager
):
    settings.HANDOFF_FRAME_ANCESTORS = ["https://www.example.com", "'self'"]
    client = Client()
    for path in ("/f/spring-webinar/", "/f/spring-webinar/thanks/"):
        response = client.get(path)
        assert response.status_code == 200
        assert "X-Frame-Options" not in response.headers
        assert frame_ancestors(response) == "frame-ancestors https://www.example.com 'self'"
        policy = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy, "the rest of the policy stays"
    refused = client.post("/f/spring-webinar/", {"email": "not-an-address"})
    assert "X-Frame-Options" not in refused.headers, "a refusal shows inside the frame too"
    for path in ("/accounts/login/", "/api/schema/"):
        response = client.get(path)
        assert response.headers["X-Frame-Options"] == "DENY", path
        assert frame_ancestors(response) == "frame-ancestors 'none'", path
    client.force_login(manager)
    page = client.get("/campaigns/spring-webinar/")
    assert page.headers["X-Frame-Options"] == "DENY"


def test_a_frame_ancestor_must_be_an_origin():
    assert frame_ancestors_check(["https://www.example.com", "http://localhost:8080"])
    for bad in ("www.example.com", "https://a.example; script-src *", "*", "'unsafe-inline'"):
        with pytest.raises(ImproperlyConfigured):
            frame_ancestors_check([bad])


def test_a_policy_without_frame_ancestors_gets_one():
    assert (
        policy_framed_by("default-src 'self';", ["https://a.example"])
        == "default-src 'self'; frame-ancestors https://a.example"
    )
    assert (
        policy_framed_by("frame-ancestors 'none'; img-src 'self'", ["'self'"])
        == "frame-ancestors 'self'; img-src 'self'"
    )


@pytest.mark.parametrize(
    "password",
    ["short1", "password", "12345678901", "qwertyuiop", "marketer-1"],
)
def test_it_refuses_weak_passwords(password, marketer):
    with pytest.raises(ValidationError):
        validate_password(password, user=marketer)


def test_it_takes_a_strong_password(marketer):
    assert validate_password("correct horse battery staple 42", user=marketer) is None


def test_the_admin_refuses_a_weak_password_for_a_new_user(make_user):
    from django.contrib.auth import get_user_model

    client = Client()
    client.force_login(make_user("root", None, is_staff=True, is_superuser=True))
    response = client.post(
        "/admin/auth/user/add/",
        {"username": "newrep", "password1": "password", "password2": "password"},
    )
    assert response.status_code == 200
    assert "This password is too common" in response.content.decode()
    assert not get_user_model().objects.filter(username="newrep").exists()
