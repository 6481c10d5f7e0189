import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from campaigns.models import CampaignMembership, CaptureSubmission, EngagementEvent
from funnel.models import Transition
from leads.models import Lead

pytestmark = pytest.mark.django_db

FORM = {"email": "Ada@Example.com", "first_name": "Ada", "last_name": "Lovelace", "company": "AE"}


def post(client, slug="spring-webinar", data=None, query=""):
    return client.post(f"/f/{slug}/{query}", data if data is not None else FORM)


def written() -> tuple[int, int, int, int]:
    return (
        Lead.objects.count(),
        CampaignMembership.objects.count(),
        CaptureSubmission.objects.count(),
        EngagementEvent.objects.count(),
    )


def test_it_shows_the_landing_page_to_anyone(client, campaign):
    response = client.get("/f/spring-webinar/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Join the spring webinar" in body
    assert "For revenue teams" in body
    assert 'name="company"' in body and 'name="title"' not in body
    assert "csrfmiddlewaretoken" in body


def test_it_creates_an_mql_from_a_new_visitor(client, campaign):
    response = post(client)
    assert response.status_code == 302
    assert response["Location"] == "/f/spring-webinar/thanks/"
    lead = Lead.objects.get(email="ada@example.com")
    assert (lead.stage, lead.first_name, lead.company) == ("mql", "Ada", "AE")
    assert lead.score == 50
    verbs = list(Transition.objects.filter(lead=lead).values_list("verb", "campaign__slug"))
    assert verbs == [("create", "spring-webinar"), ("engage", "spring-webinar")]
    engage = Transition.objects.get(lead=lead, verb="engage")
    assert engage.actor_label == "system: form submitted on campaign spring-webinar"
    membership = CampaignMembership.objects.get(lead=lead, campaign=campaign)
    assert (membership.how, membership.touches) == ("form", 1)
    submission = CaptureSubmission.objects.get(lead=lead)
    assert (submission.created_lead, submission.stage_before, submission.stage_after) == (
        True,
        "suspect",
        "mql",
    )
    assert client.get(response["Location"]).status_code == 200


def test_it_updates_and_engages_a_known_suspect_matched_by_email(client, campaign, make_lead):
    lead = make_lead("suspect", email="ada@example.com", company="Old Co", title="CTO")
    response = post(client, data={**FORM, "email": "  ADA@example.com ", "company": "New Co"})
    assert response.status_code == 302
    lead.refresh_from_db()
    assert (lead.stage, lead.company, lead.title) == ("mql", "New Co", "CTO")
    assert Lead.objects.count() == 1
    assert CaptureSubmission.objects.get().created_lead is False


def test_it_recycles_a_nurtured_lead(client, campaign, make_lead):
    lead = make_lead("nurture", email="ada@example.com")
    post(client)
    lead.refresh_from_db()
    assert lead.stage == "mql"
    row = Transition.objects.filter(lead=lead).last()
    assert (row.verb, row.from_stage, row.campaign_id) == ("recycle", "nurture", campaign.pk)


def test_it_only_records_the_touch_for_a_lead_further_on(client, campaign, make_lead, rep):
    lead = make_lead("sal", email="ada@example.com", owner=rep)
    before = Transition.objects.filter(lead=lead).count()
    post(client)
    post(client)
    lead.refresh_from_db()
    assert lead.stage == "sal"
    assert Transition.objects.filter(lead=lead).count() == before
    membership = CampaignMembership.objects.get(lead=lead, campaign=campaign)
    assert membership.touches == 2
    assert EngagementEvent.objects.filter(lead=lead, kind="form_submitted").count() == 2


def test_it_records_utm_and_gclid_from_the_page_url(client, campaign):
    query = "?utm_source=google&utm_medium=cpc&utm_campaign=spring&utm_term=crm&gclid=Cj0KCQ-123"
    post(client, query=query)
    submission = CaptureSubmission.objects.get()
    assert (
        submission.utm_source,
        submission.utm_medium,
        submission.utm_campaign,
        submission.utm_term,
        submission.gclid,
    ) == ("google", "cpc", "spring", "crm", "Cj0KCQ-123")


def test_it_refuses_a_filled_honeypot_and_writes_nothing(client, campaign):
    response = post(client, data={**FORM, "fax_number": "+1 555 0100"})
    assert response.status_code == 400
    assert "meant to stay empty" in response.content.decode()
    assert written() == (0, 0, 0, 0)


def test_it_refuses_posts_over_the_rate_limit(client, campaign, settings):
    settings.HANDOFF_CAPTURE_RATE_LIMIT = 2
    assert post(client, data={**FORM, "email": "one@example.com"}).status_code == 302
    assert post(client, data={**FORM, "email": "two@example.com"}).status_code == 302
    response = post(client, data={**FORM, "email": "three@example.com"})
    assert response.status_code == 429
    assert "Too many submissions" in response.content.decode()
    assert not Lead.objects.filter(email="three@example.com").exists()
    assert Lead.objects.count() == 2


def test_it_counts_the_rate_limit_per_address(client, campaign, settings):
    settings.HANDOFF_CAPTURE_RATE_LIMIT = 1
    assert post(client, data={**FORM, "email": "one@example.com"}).status_code == 302
    other = Client(REMOTE_ADDR="203.0.113.9")
    try:
        assert post(other, data={**FORM, "email": "two@example.com"}).status_code == 302
    finally:
        from django.core.cache import caches

        caches["capture"].delete("capture-rate:203.0.113.9")
    assert post(client, data={**FORM, "email": "three@example.com"}).status_code == 429


def test_it_requires_consent_when_the_campaign_asks_for_it(client, make_campaign):
    make_campaign("gated", consent_text="I agree to be contacted about the webinar.")
    response = post(client, slug="gated")
    assert response.status_code == 400
    assert "Please give your consent" in response.content.decode()
    assert written() == (0, 0, 0, 0)
    assert post(client, slug="gated", data={**FORM, "consent": "on"}).status_code == 302
    assert CaptureSubmission.objects.get().consent_text.startswith("I agree")


def test_it_refuses_a_ten_megabyte_field_and_writes_nothing(client, campaign):
    response = post(client, data={**FORM, "company": "x" * 10_000_000})
    assert response.status_code == 413
    assert "too large" in response.content.decode()
    assert written() == (0, 0, 0, 0)


def test_it_refuses_a_field_over_its_length(client, campaign):
    response = post(client, data={**FORM, "company": "x" * 300})
    assert response.status_code == 400
    assert "at most 255 characters" in response.content.decode()
    assert written() == (0, 0, 0, 0)


def test_it_refuses_a_bad_email(client, campaign):
    response = post(client, data={**FORM, "email": "not-an-address"})
    assert response.status_code == 400
    assert "valid email address" in response.content.decode()
    assert written() == (0, 0, 0, 0)


def test_it_refuses_an_unknown_or_unpublished_campaign(client, make_campaign):
    make_campaign("draft", capture_published=False)
    assert client.get("/f/nothing-here/").status_code == 404
    assert post(client, slug="nothing-here").status_code == 404
    assert post(client, slug="draft").status_code == 404
    assert written() == (0, 0, 0, 0)


def test_it_refuses_an_ended_campaign(client, make_campaign):
    make_campaign("last-year", ends_on=timezone.localdate() - dt.timedelta(days=1))
    response = post(client, slug="last-year")
    assert response.status_code == 410
    assert "ended on" in response.content.decode()
    assert client.get("/f/last-year/").status_code == 410
    assert written() == (0, 0, 0, 0)


def test_it_takes_submissions_on_the_last_day(client, make_campaign):
    make_campaign("today", ends_on=timezone.localdate())
    assert post(client, slug="today").status_code == 302


def test_it_checks_csrf_on_the_page(campaign):
    strict = Client(enforce_csrf_checks=True)
    response = post(strict)
    assert response.status_code == 403
    assert written() == (0, 0, 0, 0)
    page = strict.get("/f/spring-webinar/")
    token = page.context["csrf_token"]
    response = strict.post("/f/spring-webinar/", {**FORM, "csrfmiddlewaretoken": str(token)})
    assert response.status_code == 302
    assert Lead.objects.filter(email="ada@example.com").exists()


# --- the capture API ------------------------------------------------------------------------


def capture(api, campaign, data, *, token=None, fmt="json", query=""):
    if token is None:
        token = campaign.capture_token
    headers = {} if token is False else {"X-Capture-Token": token}
    return api().post(f"/api/capture/{campaign.slug}/{query}", data, format=fmt, headers=headers)


def test_it_captures_json_with_the_campaign_token(api, campaign):
    response = capture(
        api,
        campaign,
        {
            "email": "grace@example.com",
            "title": "Rear admiral",
            "company_size": 120,
            "page_url": "https://site.example/offer?utm_source=linkedin&gclid=G-1",
        },
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["created"], body["stage_before"], body["stage"]) == (True, "suspect", "mql")
    lead = Lead.objects.get(pk=body["lead"])
    assert (lead.title, lead.company_size) == ("Rear admiral", 120)
    submission = CaptureSubmission.objects.get()
    assert (submission.via, submission.utm_source, submission.gclid) == ("api", "linkedin", "G-1")
    assert CampaignMembership.objects.get(lead=lead).how == "api"


def test_it_captures_form_encoded_with_the_token_in_the_query(api, campaign, make_lead):
    make_lead("suspect", email="grace@example.com")
    response = api().post(
        f"/api/capture/{campaign.slug}/?token={campaign.capture_token}&utm_source=partner",
        {"email": "grace@example.com", "first_name": "Grace"},
        format="multipart",
    )
    # multipart is not a capture format: providers send JSON or urlencoded
    assert response.status_code == 415
    response = api().generic(
        "POST",
        f"/api/capture/{campaign.slug}/?token={campaign.capture_token}&utm_source=partner",
        "email=grace%40example.com&first_name=Grace",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["created"] is False
    assert Lead.objects.get(email="grace@example.com").first_name == "Grace"
    assert CaptureSubmission.objects.get().utm_source == "partner"


@pytest.mark.parametrize("token", [False, "wrong-token", ""])
def test_it_refuses_a_missing_or_wrong_token(api, campaign, token):
    response = capture(api, campaign, {"email": "grace@example.com"}, token=token)
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"
    assert written() == (0, 0, 0, 0)


def test_it_refuses_another_campaigns_token(api, campaign, make_campaign):
    other = make_campaign("other")
    response = capture(api, campaign, {"email": "grace@example.com"}, token=other.capture_token)
    assert response.status_code == 401


def test_the_api_refuses_bad_input_with_nothing_written(api, make_campaign):
    gated = make_campaign("gated", consent_text="I agree.")
    ended = make_campaign("ended", ends_on=timezone.localdate() - dt.timedelta(days=3))
    cases = [
        (gated, {"email": "a@example.com"}, 400, "consent_required"),
        (gated, {"email": "nope", "consent": True}, 400, "invalid"),
        (gated, {"email": "a@example.com", "consent": True, "fax_number": "x"}, 400, "spam"),
        (gated, {"email": "a@example.com", "consent": True, "city": "x" * 10_000_000}, 413, None),
        (ended, {"email": "a@example.com"}, 410, "campaign_ended"),
    ]
    for campaign, data, status, code in cases:
        response = capture(api, campaign, data)
        assert response.status_code == status, (data, response.content[:200])
        if code:
            assert response.json()["code"] == code
    response = api().post("/api/capture/unknown/", {"email": "a@example.com"}, format="json")
    assert response.status_code == 404
    response = api().generic(
        "POST",
        f"/api/capture/gated/?token={gated.capture_token}",
        "[1, 2",
        content_type="application/json",
    )
    assert response.status_code == 400
    assert written() == (0, 0, 0, 0)


def test_the_api_refuses_nested_values(api, campaign):
    response = capture(api, campaign, {"email": "a@example.com", "company": {"name": "X"}})
    assert response.status_code == 400
    assert response.json()["detail"].startswith("company: send a single value")
    assert written() == (0, 0, 0, 0)
