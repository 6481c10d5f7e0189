"""GDPR erasure: personal data goes everywhere, the funnel's counts stay, the erasure is logged."""

import pytest

from campaigns.models import CampaignMembership, CaptureSubmission, EngagementEvent
from campaigns.nurture.models import Audience, AudienceMember
from campaigns.scoring import engagement_record
from campaigns.services import campaign_create, membership_touch
from funnel.models import Transition
from leads.models import Erasure, Lead
from reporting.selectors import funnel_snapshot
from tests.conftest import move

pytestmark = pytest.mark.django_db


@pytest.fixture
def person(make_lead, rep, committed):
    lead = make_lead(
        "mql",
        email="ada@lovelace.example",
        first_name="Ada",
        last_name="Lovelace",
        phone="+44 20 7946 0000",
        company="Analytical Engines",
        country="United Kingdom",
        attributes={"Notes": "met at the Royal Society"},
        source="event",
    )
    move(lead, "nurture", rep, reason="not_ready_yet", note="Ada says: call me in spring")
    campaign = campaign_create(name="Spring", channel="event", slug="spring")
    membership_touch(
        lead=lead,
        campaign=campaign,
        how="form",
        attribution={
            "utm_source": "google",
            "gclid": "abc123",
            "referrer": "https://ada.example/blog",
            "landing_page": "https://site.example/f/spring/?gclid=abc123",
        },
    )
    CaptureSubmission.objects.create(
        campaign=campaign,
        lead=lead,
        via="page",
        utm_source="google",
        gclid="abc123",
        referrer="https://ada.example/blog",
        fields={"first_name": "Ada"},
    )
    engagement_record(lead_id=lead.pk, kind="page_visited", detail="https://ada.example/x")
    audience = Audience.objects.create(name="Retarget")
    AudienceMember.objects.create(audience=audience, lead=lead)
    return lead


def test_it_removes_personal_data_everywhere_and_keeps_the_counts(api, manager, person):
    before = funnel_snapshot()
    response = api(manager).delete(f"/api/leads/{person.pk}/")
    assert response.status_code == 204

    lead = Lead.objects.get(pk=person.pk)
    assert (lead.email, lead.first_name, lead.last_name, lead.phone, lead.company) == (
        None,
        "",
        "",
        "",
        "",
    )
    assert lead.attributes == {} and lead.do_not_email is True
    assert lead.external_id == f"erased-{lead.pk}"
    # What the funnel counts stays: stage, country, source, the moves.
    assert (lead.stage, lead.country, lead.source) == ("nurture", "United Kingdom", "event")
    assert funnel_snapshot() == before
    moves = Transition.objects.filter(lead=lead)
    assert list(moves.values_list("to_stage", flat=True)) == ["suspect", "mql", "nurture"]
    assert set(moves.values_list("note", flat=True)) == {""}
    assert moves.get(to_stage="nurture").reason.code == "not_ready_yet"

    submission = CaptureSubmission.objects.get(lead=lead)
    assert (submission.fields, submission.gclid, submission.referrer, submission.utm_source) == (
        {},
        "",
        "",
        "google",
    )
    assert EngagementEvent.objects.get(lead=lead).detail == ""
    # The touch keeps its campaign and UTM values, not the person's click or pages.
    membership = CampaignMembership.objects.get(lead=lead)
    assert membership.first_attribution == membership.last_attribution == {"utm_source": "google"}
    assert not AudienceMember.objects.filter(lead=lead).exists()
    erasure = Erasure.objects.get(lead=lead)
    assert erasure.requested_by == manager


def test_erasing_twice_changes_nothing_more(api, manager, person):
    api(manager).delete(f"/api/leads/{person.pk}/")
    assert api(manager).delete(f"/api/leads/{person.pk}/").status_code == 204
    assert Erasure.objects.filter(lead=person).count() == 1


@pytest.mark.parametrize("persona", ["marketer", "rep"])
def test_only_managers_erase(api, request, person, persona):
    response = api(request.getfixturevalue(persona)).delete(f"/api/leads/{person.pk}/")
    assert response.status_code == 403
    assert "Only managers erase" in response.json()["detail"]
    assert Lead.objects.get(pk=person.pk).email == "ada@lovelace.example"


def test_erasing_a_missing_lead_is_404(api, manager):
    assert api(manager).delete("/api/leads/424242/").status_code == 404


def test_a_manager_erases_from_the_lead_page_after_confirming(client, manager, person):
    client.force_login(manager)
    page = client.get(f"/leads/{person.pk}/").content.decode()
    assert ">Erase personal data</button>" in page
    unconfirmed = client.post(f"/leads/{person.pk}/erase/", follow=True).content.decode()
    assert "Tick the box to confirm" in unconfirmed
    assert Lead.objects.get(pk=person.pk).first_name == "Ada"
    done = client.post(
        f"/leads/{person.pk}/erase/",
        {"confirm": "erase", "reason": "request by e-mail"},
        follow=True,
    ).content.decode()
    assert "personal data was erased" in done and "Personal data erased on" in done
    assert "Lovelace" not in done
    assert Erasure.objects.get(lead=person).reason == "request by e-mail"


def test_a_rep_sees_no_erase_button_and_cannot_post_it(client, rep, person):
    client.force_login(rep)
    assert "Erase personal data" not in client.get(f"/leads/{person.pk}/").content.decode()
    assert client.post(f"/leads/{person.pk}/erase/", {"confirm": "erase"}).status_code == 403
