import pytest

from campaigns.models import Campaign
from campaigns.services import membership_touch, segment_save

pytestmark = pytest.mark.django_db


def campaign_form(**extra):
    data = {
        "name": "Spring webinar",
        "slug": "",
        "channel": "webinar",
        "positioning": "For revenue teams.",
        "utm_source": "google",
        "utm_medium": "cpc",
        "utm_campaign": "spring",
        "starts_on": "2026-03-01",
        "ends_on": "2026-05-31",
        "budget": "2500.00",
        "capture_published": "on",
        "capture_headline": "Join us",
        "capture_fields": ["first_name", "company"],
        "consent_text": "",
    }
    data.update(extra)
    return data


def test_a_marketer_builds_a_campaign_on_a_segment(client, marketer):
    segment = segment_save(name="DACH", conditions=[], actor=marketer)
    client.force_login(marketer)
    response = client.post("/campaigns/new/", campaign_form(segment=segment.pk, owner=marketer.pk))
    assert response.status_code == 302, response.content.decode()[:2000]
    campaign = Campaign.objects.get()
    assert (campaign.slug, campaign.segment, campaign.owner) == (
        "spring-webinar",
        segment,
        marketer,
    )
    assert campaign.capture_fields == ["first_name", "company"]
    assert str(campaign.budget) == "2500.00"
    page = client.get(response["Location"]).content.decode()
    assert "/f/spring-webinar/" in page
    assert "utm_source=google&amp;utm_medium=cpc&amp;utm_campaign=spring" in page
    assert campaign.capture_token in page  # the webhook snippet, for marketers


def test_the_campaign_form_refuses_bad_dates_and_a_taken_slug(client, marketer):
    client.force_login(marketer)
    response = client.post("/campaigns/new/", campaign_form(ends_on="2026-01-01"))
    assert response.status_code == 400
    assert "cannot end before it starts" in response.content.decode()
    assert client.post("/campaigns/new/", campaign_form()).status_code == 302
    response = client.post("/campaigns/new/", campaign_form())
    assert response.status_code == 400
    assert Campaign.objects.count() == 1


def test_a_marketer_edits_a_campaign(client, marketer, campaign):
    client.force_login(marketer)
    response = client.post(
        f"/campaigns/{campaign.slug}/edit/",
        campaign_form(name="Renamed", slug=campaign.slug, capture_published=""),
    )
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert (campaign.name, campaign.capture_published) == ("Renamed", False)


def test_the_campaign_page_shows_members_by_stage_and_its_funnel(
    client, manager, campaign, make_lead, committed
):
    for stage in ("suspect", "mql", "mql", "sal"):
        membership_touch(lead=make_lead(stage), campaign=campaign, how="manual")
    make_lead("mql")  # not a member
    client.force_login(manager)
    body = client.get(f"/campaigns/{campaign.slug}/").content.decode()
    assert '<td data-members="mql">2</td>' in body
    assert '<td data-members="sal">1</td>' in body
    assert '<td data-reached="mql">3</td>' in body


def test_campaign_pages_refuse_reps_and_unknown_slugs(client, rep, marketer, campaign):
    client.force_login(rep)
    assert client.get("/campaigns/").status_code == 403
    assert client.get(f"/campaigns/{campaign.slug}/").status_code == 403
    assert client.post("/campaigns/new/", campaign_form()).status_code == 403
    assert client.post(f"/campaigns/{campaign.slug}/rotate-token/").status_code == 403
    client.force_login(marketer)
    assert client.get("/campaigns/nope/").status_code == 404
    assert client.get("/campaigns/").status_code == 200


def test_rotating_the_token_retires_the_old_one(client, marketer, campaign, api):
    old = campaign.capture_token
    client.force_login(marketer)
    client.post(f"/campaigns/{campaign.slug}/rotate-token/")
    campaign.refresh_from_db()
    assert campaign.capture_token != old
    response = api().post(
        f"/api/capture/{campaign.slug}/",
        {"email": "a@example.com"},
        format="json",
        headers={"X-Capture-Token": old},
    )
    assert response.status_code == 401


def test_the_campaigns_api_has_the_new_fields(api, marketer, rep):
    segment = segment_save(name="DACH", conditions=[], actor=marketer)
    response = api(marketer).post(
        "/api/campaigns/",
        {
            "name": "Trade fair",
            "channel": "event",
            "segment": "dach",
            "positioning": "Meet us in Hall 4.",
            "utm_source": "fair",
            "starts_on": "2026-04-01",
            "ends_on": "2026-04-03",
            "budget": "12000",
            "owner": "marketer",
            "capture_published": True,
            "capture_fields": ["company", "title"],
        },
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["slug"], body["segment"], body["owner"], body["budget"]) == (
        "trade-fair",
        "dach",
        "marketer",
        "12000.00",
    )
    assert body["landing_url"] == "/f/trade-fair/"
    assert "capture_token" not in body
    assert Campaign.objects.get(slug="trade-fair").segment == segment
    listed = api(rep).get("/api/campaigns/").json()["results"]
    assert [(c["slug"], c["members"]) for c in listed] == [("trade-fair", 0)]
    bad = api(marketer).post(
        "/api/campaigns/",
        {"name": "X", "channel": "event", "capture_fields": ["password"], "segment": "nope"},
    )
    assert bad.status_code == 400
    assert bad.json()["code"] == "invalid"
    assert api(rep).post("/api/campaigns/", {"name": "Y", "channel": "event"}).status_code == 403


def test_reserved_slugs_are_refused(client, marketer, api):
    client.force_login(marketer)
    response = client.post("/campaigns/new/", campaign_form(name="New", slug="new"))
    assert response.status_code == 400
    assert "not a usable slug" in response.content.decode()
    response = api(marketer).post("/api/campaigns/", {"name": "New", "channel": "event"})
    assert response.status_code == 400
    assert not Campaign.objects.exists()
    assert segment_save(name="Preview", conditions=[]).slug == "preview-2"


def test_the_campaign_list_takes_few_queries(
    client, marketer, make_campaign, django_assert_max_num_queries
):
    segment = segment_save(name="All", conditions=[], actor=marketer)
    for number in range(5):
        make_campaign(f"c{number}", segment=segment, owner=marketer)
    client.force_login(marketer)
    with django_assert_max_num_queries(6):
        response = client.get("/campaigns/")
    assert response.content.decode().count("/campaigns/c") == 5
