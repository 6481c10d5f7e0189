"""Attribution on the lead: first and last touch from landing pages, the capture API and
campaign memberships; the utm_source and utm_campaign filters of the API and /leads/."""

import datetime as dt

import pytest
from django.utils import timezone

from campaigns.capture import capture_submit
from campaigns.models import Campaign, CampaignMembership
from campaigns.services import membership_touch
from leads.models import Lead

pytestmark = pytest.mark.django_db

FORM = {"email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace", "company": "AE"}
AD = "?utm_source=google&utm_medium=cpc&utm_campaign=spring&utm_term=crm&gclid=Cj0KCQ-123"


def test_it_gives_a_lead_from_an_ad_its_first_and_last_touch(client, campaign, api, manager):
    client.get(f"/f/{campaign.slug}/{AD}", HTTP_REFERER="https://www.google.com/")
    response = client.post(
        f"/f/{campaign.slug}/{AD}",
        {**FORM, "referrer": "https://www.google.com/"},
        HTTP_REFERER=f"http://testserver/f/{campaign.slug}/{AD}",
    )
    assert response.status_code == 302
    lead = Lead.objects.get()
    assert lead.source == "google"  # not the channel's "Webinar": the ad said where it came from
    body = api(manager).get(f"/api/leads/{lead.pk}/").json()
    expected = {
        "campaign": "spring-webinar",
        "channel": "webinar",
        "utm_source": "google",
        "utm_medium": "cpc",
        "utm_campaign": "spring",
        "utm_term": "crm",
        "utm_content": "",
        "gclid": "Cj0KCQ-123",
        "referrer": "https://www.google.com/",
        "landing_page": f"http://testserver/f/{campaign.slug}/{AD}",
    }
    first = body["first_touch"]
    assert {k: v for k, v in first.items() if k != "at"} == expected
    assert body["last_touch"] == first
    membership = CampaignMembership.objects.get(lead=lead)
    assert dt.datetime.fromisoformat(first["at"]) == membership.joined_at


def test_it_shows_the_referrer_it_was_sent_to_the_form_with(client, campaign):
    page = client.get(f"/f/{campaign.slug}/", HTTP_REFERER="https://news.example/article")
    assert 'name="referrer" value="https://news.example/article"' in page.content.decode()


def test_it_keeps_the_first_touch_and_moves_the_last(api, manager, make_campaign):
    webinar = make_campaign("spring-webinar")
    social = make_campaign("linkedin-ads", channel="paid_social")
    start = timezone.now() - dt.timedelta(days=3)
    first = capture_submit(
        campaign=webinar,
        fields={"email": "grace@example.com"},
        via="page",
        attribution={"utm_source": "newsletter", "utm_medium": "email"},
        landing_page="https://site.example/f/spring-webinar/?utm_source=newsletter",
        at=start,
    )
    capture_submit(
        campaign=social,
        fields={"email": "grace@example.com"},
        via="api",
        attribution={"utm_source": "linkedin", "utm_content": "carousel-2"},
        referrer="https://www.linkedin.com/",
        landing_page="https://site.example/offer",
        at=start + dt.timedelta(days=1),
    )
    body = api(manager).get(f"/api/leads/{first.lead.pk}/").json()
    assert (body["first_touch"]["campaign"], body["first_touch"]["utm_source"]) == (
        "spring-webinar",
        "newsletter",
    )
    assert body["first_touch"]["utm_medium"] == "email"
    last = body["last_touch"]
    assert (last["campaign"], last["channel"], last["utm_source"], last["utm_content"]) == (
        "linkedin-ads",
        "paid_social",
        "linkedin",
        "carousel-2",
    )
    assert (last["referrer"], last["landing_page"]) == (
        "https://www.linkedin.com/",
        "https://site.example/offer",
    )
    assert dt.datetime.fromisoformat(last["at"]) == start + dt.timedelta(days=1)


def test_it_keeps_a_memberships_first_attribution_when_touched_again(campaign):
    lead = Lead.objects.create(email="hopper@example.com")
    at = timezone.now() - dt.timedelta(days=2)
    membership_touch(
        lead=lead, campaign=campaign, how="form", at=at, attribution={"utm_source": "google"}
    )
    membership_touch(lead=lead, campaign=campaign, how="form", attribution={"utm_source": "bing"})
    # A touch that brings nothing (a manual add) keeps the last attribution it had.
    membership = membership_touch(lead=lead, campaign=campaign, how="manual")
    assert membership.first_attribution == {"utm_source": "google"}
    assert membership.last_attribution == {"utm_source": "bing"}
    assert membership.touches == 3


def test_it_answers_null_touches_for_a_lead_from_no_campaign(api, manager, make_lead):
    lead = make_lead(email="solo@example.com")
    body = api(manager).get(f"/api/leads/{lead.pk}/").json()
    assert (body["first_touch"], body["last_touch"]) == (None, None)


def test_it_takes_the_detail_back_in_a_patch_with_its_touches(api, manager, campaign):
    lead = capture_submit(campaign=campaign, fields={"email": "x@example.com"}, via="page").lead
    client = api(manager)
    body = client.get(f"/api/leads/{lead.pk}/").json()
    body.pop("stage")  # moved only by transitions
    response = client.patch(
        f"/api/leads/{lead.pk}/", {**body, "owner": None, "company": "X"}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["first_touch"]["campaign"] == campaign.slug


def _three_leads(make_campaign):
    spring = make_campaign("spring-webinar")
    fair = make_campaign("trade-fair", channel="event")
    capture_submit(
        campaign=spring,
        fields={"email": "a@example.com"},
        via="page",
        attribution={"utm_source": "Google", "utm_campaign": "spring"},
    )
    capture_submit(
        campaign=fair,
        fields={"email": "b@example.com"},
        via="page",
        attribution={"utm_source": "bing", "utm_campaign": "fair"},
    )
    # b's later touch on the spring campaign came from google: it counts as a google lead too.
    capture_submit(
        campaign=spring,
        fields={"email": "b@example.com"},
        via="page",
        attribution={"utm_source": "google", "utm_campaign": "retarget"},
    )
    capture_submit(campaign=fair, fields={"email": "c@example.com"}, via="page")
    return spring, fair


def test_it_filters_leads_by_utm_source_and_utm_campaign(api, manager, make_campaign):
    _three_leads(make_campaign)
    client = api(manager)

    def emails(query):
        response = client.get(f"/api/leads/?{query}")
        assert response.status_code == 200, response.json()
        return sorted(row["email"] for row in response.json()["results"])

    assert emails("utm_source=google") == ["a@example.com", "b@example.com"]
    assert emails("utm_source=BING") == ["b@example.com"]
    assert emails("utm_campaign=spring") == ["a@example.com"]
    assert emails("utm_campaign=fair&utm_source=google") == ["b@example.com"]
    assert emails("utm_source=yahoo") == []
    assert len(emails("utm_source=")) == 3


def test_it_refuses_an_overlong_utm_filter_with_a_clear_error(api, manager):
    response = api(manager).get("/api/leads/?utm_source=" + "x" * 151)
    assert response.status_code == 400
    assert "at most 150 characters" in response.json()["errors"]["utm_source"][0]


def test_it_filters_the_lead_list_page_by_utm(client, manager, make_campaign):
    _three_leads(make_campaign)
    client.force_login(manager)
    page = client.get("/leads/?utm_source=google&utm_campaign=retarget").content.decode()
    assert 'id="utm_source"' in page and 'value="google"' in page
    assert "b@example.com" in page
    assert "a@example.com" not in page and "c@example.com" not in page
    assert "1 lead" in page


def test_it_shows_the_touches_on_the_lead_page(client, manager, campaign):
    captured = capture_submit(
        campaign=campaign,
        fields={"email": "z@example.com"},
        via="page",
        attribution={"utm_source": "google", "gclid": "G-77"},
        landing_page="https://site.example/f/spring-webinar/?gclid=G-77",
    )
    client.force_login(manager)
    page = client.get(f"/leads/{captured.lead.pk}/").content.decode()
    assert "First touch" in page and "Last touch" in page
    assert "Google click id (gclid)</dt><dd>G-77" in page
    assert "UTM source</dt><dd>google" in page
    assert "Spring Webinar" in page
    assert "UTM medium" not in page  # none was sent: no empty row


def test_it_says_a_lead_has_no_touch_on_its_page(client, manager, make_lead):
    lead = make_lead(email="nothing@example.com")
    client.force_login(manager)
    page = client.get(f"/leads/{lead.pk}/").content.decode()
    assert "No campaign touch yet" in page
    assert Campaign.objects.count() == 0


def test_the_migration_gives_earlier_form_memberships_their_submissions_touches(campaign):
    import importlib

    from django.apps import apps

    from campaigns.models import CaptureSubmission

    migration = importlib.import_module("campaigns.migrations.0005_membership_attribution")
    lead = Lead.objects.create(email="early@example.com")
    other = Lead.objects.create(email="direct@example.com")
    at = timezone.now() - dt.timedelta(days=9)
    for one in (lead, other):
        CampaignMembership.objects.create(lead=one, campaign=campaign, how="form", joined_at=at)
    page = "https://site.example/f/spring-webinar/?utm_source=google"
    for days, source in ((0, "google"), (2, ""), (4, "bing")):
        CaptureSubmission.objects.create(
            campaign=campaign,
            lead=lead,
            via="page",
            at=at + dt.timedelta(days=days),
            utm_source=source,
            referrer=page if days == 0 else "",
        )
    migration.attribution_from_submissions(apps, None)
    membership = CampaignMembership.objects.get(lead=lead)
    assert membership.first_attribution == {"utm_source": "google", "landing_page": page}
    assert membership.last_attribution == {"utm_source": "bing"}
    assert CampaignMembership.objects.get(lead=other).first_attribution is None


def test_it_takes_no_referrer_from_the_form_page_posting_to_itself(client, campaign):
    # Behind a TLS proxy the post's Referer says https, the app sees http: still the same page.
    client.post(
        f"/f/{campaign.slug}/{AD}",
        FORM,
        HTTP_REFERER=f"https://testserver/f/{campaign.slug}/?utm_source=google",
    )
    membership = CampaignMembership.objects.get()
    assert "referrer" not in membership.first_attribution
    assert (
        membership.first_attribution["landing_page"] == f"http://testserver/f/{campaign.slug}/{AD}"
    )
