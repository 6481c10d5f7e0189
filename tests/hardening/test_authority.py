"""Authority gaps the outside probe found, each closed on the page and the API path.

- Claims are for unassigned MQLs: a rep who claims an unassigned nurtured lead or suspect is
  refused (409, saying why) and the lead stays unassigned.
- A rep edits their own leads and the unassigned MQLs of the queue, not an unassigned
  suspect or nurtured lead (marketing's): 403.
- Consent: anyone who edits a lead may record that the person wants no e-mail; setting
  `do_not_email` back to false is the person's (a new consent) or a manager's with a
  `consent_reason`, logged as a consent record beside the unsubscribes.
- Creating a lead straight into MQL skips the engagement, which the transition table gives
  to marketing and the system (and managers): a rep gets 403.
"""

import pytest
from django.test import Client

from campaigns.nurture.models import ConsentRecord
from campaigns.nurture.selectors import lead_timeline
from leads.models import Lead

pytestmark = pytest.mark.django_db


def page_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- claims --------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", ["nurture", "suspect", "sal"])
def test_it_refuses_a_rep_s_claim_of_an_unassigned_lead_that_is_not_an_mql(rep, make_lead, stage):
    lead = make_lead(stage)
    response = page_client(rep).post(f"/queue/{lead.pk}/claim/")
    assert response.status_code == 409
    assert f"Lead {lead.pk} is in {stage}: only MQLs are claimed" in response.content.decode()
    lead.refresh_from_db()
    assert lead.owner is None


def test_it_refuses_the_claim_in_the_queue_row_under_htmx(rep, make_lead):
    lead = make_lead("nurture")
    response = page_client(rep).post(f"/queue/{lead.pk}/claim/", HTTP_HX_REQUEST="true")
    assert "only MQLs are claimed" in response.content.decode()
    assert Lead.objects.get(pk=lead.pk).owner is None


def test_it_still_lets_a_rep_claim_an_unassigned_mql(rep, make_lead):
    lead = make_lead("mql")
    Lead.objects.filter(pk=lead.pk).update(owner=None)
    response = page_client(rep).post(f"/queue/{lead.pk}/claim/")
    assert response.status_code == 302
    assert Lead.objects.get(pk=lead.pk).owner == rep


# --- editing -------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", ["suspect", "nurture"])
def test_it_refuses_a_rep_s_edit_of_an_unassigned_lead_outside_the_queue(
    rep, api, make_lead, stage
):
    lead = make_lead(stage, company="Globex")
    response = api(rep).patch(f"/api/leads/{lead.pk}/", {"company": "Initech"}, format="json")
    assert response.status_code == 403, response.content
    body = response.json()
    assert body["code"] == "permission_denied"
    assert f"unassigned {stage}" in body["detail"]
    assert Lead.objects.get(pk=lead.pk).company == "Globex"


def test_it_lets_a_rep_edit_their_own_lead_and_an_unassigned_mql(rep, api, make_lead):
    own = make_lead("suspect", owner=rep)
    queued = make_lead("mql")
    Lead.objects.filter(pk=queued.pk).update(owner=None)
    for lead in (own, queued):
        response = api(rep).patch(f"/api/leads/{lead.pk}/", {"company": "Initech"}, format="json")
        assert response.status_code == 200, response.content
        assert response.json()["company"] == "Initech"


def test_it_lets_a_marketer_edit_an_unassigned_suspect(marketer, api, make_lead):
    lead = make_lead("suspect")
    response = api(marketer).patch(f"/api/leads/{lead.pk}/", {"title": "CTO"}, format="json")
    assert response.status_code == 200, response.content
    assert Lead.objects.get(pk=lead.pk).title == "CTO"


# --- consent -------------------------------------------------------------------------------


@pytest.fixture
def unsubscribed(make_lead, rep):
    lead = make_lead("sal", owner=rep)
    Lead.objects.filter(pk=lead.pk).update(do_not_email=True)
    return lead


def test_it_refuses_a_rep_who_sets_do_not_email_back_to_false(rep, api, unsubscribed):
    response = api(rep).patch(
        f"/api/leads/{unsubscribed.pk}/",
        {"do_not_email": False, "consent_reason": "they said so"},
        format="json",
    )
    assert response.status_code == 403, response.content
    assert "Only the person" in response.json()["detail"]
    assert Lead.objects.get(pk=unsubscribed.pk).do_not_email is True
    assert not ConsentRecord.objects.exists()


def test_it_refuses_a_marketer_too(marketer, api, unsubscribed):
    response = api(marketer).patch(
        f"/api/leads/{unsubscribed.pk}/", {"do_not_email": False}, format="json"
    )
    assert response.status_code == 403
    assert Lead.objects.get(pk=unsubscribed.pk).do_not_email is True


def test_a_manager_gives_consent_back_only_with_a_reason(manager, api, unsubscribed):
    response = api(manager).patch(
        f"/api/leads/{unsubscribed.pk}/", {"do_not_email": False}, format="json"
    )
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid"
    assert "consent_reason" in body["errors"]
    assert Lead.objects.get(pk=unsubscribed.pk).do_not_email is True

    reason = "Signed up again at our booth on 2026-12-03 (form kept)"
    response = api(manager).patch(
        f"/api/leads/{unsubscribed.pk}/",
        {"do_not_email": False, "consent_reason": reason},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["do_not_email"] is False
    assert "consent_reason" not in response.json()
    (record,) = ConsentRecord.objects.filter(lead=unsubscribed)
    assert (record.action, record.how, record.actor, record.reason) == (
        "resubscribed",
        "staff",
        manager,
        reason,
    )
    texts = [entry["text"] for entry in lead_timeline(unsubscribed)]
    assert f"E-mail allowed again (Changed by a user) by manager: {reason}" in texts


def test_a_rep_records_that_a_person_wants_no_email_and_it_is_logged(rep, api, make_lead):
    lead = make_lead("sal", owner=rep)
    response = api(rep).patch(f"/api/leads/{lead.pk}/", {"do_not_email": True}, format="json")
    assert response.status_code == 200, response.content
    (record,) = ConsentRecord.objects.filter(lead=lead)
    assert (record.action, record.how, record.actor) == ("unsubscribed", "staff", rep)


def test_an_edit_that_leaves_consent_alone_logs_nothing(rep, api, unsubscribed):
    response = api(rep).patch(
        f"/api/leads/{unsubscribed.pk}/", {"do_not_email": True, "city": "Bonn"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert not ConsentRecord.objects.exists()


# --- creating into MQL ---------------------------------------------------------------------


def test_it_refuses_a_rep_who_creates_a_lead_straight_into_mql(rep, api):
    response = api(rep).post(
        "/api/leads/", {"email": "ann@example.com", "stage": "mql"}, format="json"
    )
    assert response.status_code == 403, response.content
    body = response.json()
    assert body["code"] == "permission_denied"
    assert "create a lead in mql" in body["detail"]
    assert not Lead.objects.filter(email="ann@example.com").exists()


def test_a_rep_creates_a_suspect_and_a_marketer_or_manager_an_mql(rep, marketer, manager, api):
    created = api(rep).post("/api/leads/", {"email": "s@example.com"}, format="json")
    assert created.status_code == 201, created.content
    # A rep's own find is theirs, so they can go on editing it.
    assert created.json()["owner"] == "rep"
    edited = api(rep).patch(f"/api/leads/{created.json()['id']}/", {"city": "Bonn"}, format="json")
    assert edited.status_code == 200, edited.content
    for number, user in enumerate((marketer, manager)):
        response = api(user).post(
            "/api/leads/", {"email": f"m{number}@example.com", "stage": "mql"}, format="json"
        )
        assert response.status_code == 201, response.content
        assert response.json()["stage"] == "mql"
