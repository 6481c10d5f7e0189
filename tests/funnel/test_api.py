"""The public API contract (DESIGN.md section 3): shapes, filters, errors."""

import pytest
from django.contrib.auth.models import Group
from rest_framework.authtoken.models import Token

from campaigns.models import Campaign
from campaigns.services import membership_touch
from funnel.models import Transition
from leads.models import Lead
from tests.conftest import FUTURE, move

pytestmark = pytest.mark.django_db

LEAD_KEYS = {
    "id",
    "email",
    "external_id",
    "first_name",
    "last_name",
    "company",
    "title",
    "phone",
    "country",
    "city",
    "industry",
    "company_size",
    "website",
    "source",
    "owner",
    "do_not_email",
    "attributes",
    "stage",
    "funnel",
    "stage_changed_at",
    "score",
    "created_at",
    "updated_at",
}


def test_it_issues_a_token_that_authenticates(client, rep):
    response = client.post(
        "/api/auth/token/", {"username": "rep", "password": "pw-for-tests-only-1"}
    )
    assert response.status_code == 200
    token = response.json()["token"]
    assert Token.objects.get(user=rep).key == token
    listed = client.get("/api/leads/", HTTP_AUTHORIZATION=f"Token {token}")
    assert listed.status_code == 200 and listed.json()["count"] == 0


def test_it_refuses_a_wrong_password_with_the_error_shape(client, rep):
    response = client.post("/api/auth/token/", {"username": "rep", "password": "nope"})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "Unable to log in" in response.json()["detail"]


def test_anonymous_gets_401_json(client):
    response = client.get("/api/leads/")
    assert response.status_code == 401
    assert response.json() == {
        "detail": "Authentication credentials were not provided.",
        "code": "not_authenticated",
    }


def test_a_user_without_a_role_gets_403(api, nobody):
    response = api(nobody).get("/api/leads/")
    assert response.status_code == 403
    assert response.json()["detail"] == "Your account has no Handoff role."


def test_unknown_api_paths_answer_json_404(api, rep):
    response = api(rep).get("/api/nothing-here/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "code": "not_found"}


def test_the_list_is_paginated_with_the_contract_shape(api, rep, make_lead):
    for _ in range(3):
        make_lead("mql")
    body = api(rep).get("/api/leads/?page_size=2").json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 3 and len(body["results"]) == 2 and body["next"]
    assert set(body["results"][0]) == LEAD_KEYS


def test_the_list_filters_as_the_contract_says(api, rep, rep2, make_lead):
    campaign = Campaign.objects.create(name="Webinar", slug="webinar", channel="webinar")
    mine = make_lead("mql", owner=rep, source="google", company="Acme Ltd")
    theirs = make_lead("sal", owner=rep2, source="Google")
    loose = make_lead("suspect", external_id="X-1", email=None, do_not_email=True)
    junk = make_lead("junk")
    membership_touch(lead=theirs, campaign=campaign, how="manual")
    client = api(rep)

    def ids(query):
        response = client.get(f"/api/leads/?{query}")
        assert response.status_code == 200, response.json()
        return {row["id"] for row in response.json()["results"]}

    assert ids("stage=mql") == {mine.pk}
    assert ids("funnel=mofu") == {mine.pk, theirs.pk}
    assert ids("funnel=closed") == {junk.pk}
    assert ids("campaign=webinar") == {theirs.pk}
    assert ids("source=google") == {mine.pk, theirs.pk}
    assert ids("external_id=X-1") == {loose.pk}
    assert ids("do_not_email=true") == {loose.pk}
    assert ids("owner=me") == {mine.pk}
    assert ids("owner=rep2") == {theirs.pk}
    assert ids("owner=none") == {loose.pk, junk.pk}
    assert ids("q=acme") == {mine.pk}


@pytest.mark.parametrize("query", ["stage=won", "funnel=middle", "do_not_email=maybe"])
def test_bad_filter_values_are_400_not_500(api, rep, query):
    response = api(rep).get(f"/api/leads/?{query}")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_it_creates_a_lead_with_its_first_log_row(api, marketer):
    response = api(marketer).post(
        "/api/leads/",
        {
            "email": "  Ada@Example.COM ",
            "first_name": "Ada",
            "company_size": 40,
            "attributes": {"Lead Quality": "High"},
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["email"], body["stage"], body["funnel"]) == ("ada@example.com", "suspect", "tofu")
    # A new installation checks MQLs against one required criterion: a business e-mail.
    assert body["criteria"] == [
        {
            "name": "Business e-mail",
            "passed": True,
            "required": True,
            "detail": "example.com is a business domain.",
        }
    ]
    assert body["attributes"] == {"Lead Quality": "High"}
    row = Transition.objects.get(lead_id=body["id"])
    assert (row.from_stage, row.to_stage, row.verb, row.actor_label) == (
        "",
        "suspect",
        "create",
        "marketer",
    )


def test_a_duplicate_email_is_409_with_the_existing_id(api, marketer, make_lead):
    lead = make_lead("suspect", email="ada@example.com")
    response = api(marketer).post("/api/leads/", {"email": " ADA@example.com"}, format="json")
    assert response.status_code == 409
    assert response.json()["existing_id"] == lead.pk
    assert response.json()["code"] == "duplicate"
    assert Lead.objects.count() == 1


def test_a_duplicate_external_id_is_409(api, marketer, make_lead):
    lead = make_lead("suspect", email=None, external_id="abc-1")
    response = api(marketer).post("/api/leads/", {"external_id": " abc-1 "}, format="json")
    assert (response.status_code, response.json()["existing_id"]) == (409, lead.pk)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"first_name": "No identity"}, "email"),
        ({"email": "not-an-email"}, "email"),
        ({"email": "a@b.co", "company_size": -3}, "company_size"),
        ({"email": "a@b.co", "attributes": ["x"]}, "attributes"),
        ({"email": "a@b.co", "stage": "customer"}, "stage"),
        ({"email": "a@b.co", "favourite_colour": "blue"}, "favourite_colour"),
        ({"email": "a@b.co", "first_name": "x" * 500}, "first_name"),
    ],
)
def test_bad_lead_input_is_400_naming_the_field(api, marketer, payload, field):
    response = api(marketer).post("/api/leads/", payload, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert Lead.objects.count() == 0


def test_malformed_json_is_400(api, marketer):
    response = api(marketer).post("/api/leads/", data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_a_json_array_body_is_400_not_500(api, marketer):
    response = api(marketer).post("/api/leads/", [1, 2], format="json")
    assert response.status_code == 400


def test_the_detail_has_criteria_and_404s_as_json(api, rep, make_lead):
    lead = make_lead("mql")
    body = api(rep).get(f"/api/leads/{lead.pk}/").json()
    keys = {"criteria", "first_touch", "last_touch", "deal", "probability", "reasons"}
    assert set(body) == LEAD_KEYS | keys
    assert body["deal"] is None
    assert (body["probability"], body["reasons"]) == (None, [])  # no predictive model yet
    missing = api(rep).get("/api/leads/999999/")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"


def test_only_managers_change_the_owner(api, rep, manager, make_lead):
    lead = make_lead("mql")
    refused = api(rep).patch(f"/api/leads/{lead.pk}/", {"owner": "rep"}, format="json")
    assert refused.status_code == 403
    assert "Only managers" in refused.json()["detail"]
    done = api(manager).patch(f"/api/leads/{lead.pk}/", {"owner": "rep"}, format="json")
    assert done.status_code == 200 and done.json()["owner"] == "rep"
    unknown = api(manager).patch(f"/api/leads/{lead.pk}/", {"owner": "ghost"}, format="json")
    assert unknown.status_code == 400


def test_patch_changes_fields_but_never_the_stage(api, marketer, make_lead):
    lead = make_lead("mql")
    response = api(marketer).patch(f"/api/leads/{lead.pk}/", {"title": "CTO"}, format="json")
    assert response.status_code == 200 and response.json()["title"] == "CTO"
    refused = api(marketer).patch(f"/api/leads/{lead.pk}/", {"stage": "sal"}, format="json")
    assert refused.status_code == 400
    lead.refresh_from_db()
    assert lead.stage == "mql"


def test_a_rep_cannot_patch_a_colleagues_lead(api, rep, rep2, make_lead):
    lead = make_lead("mql", owner=rep2)
    response = api(rep).patch(f"/api/leads/{lead.pk}/", {"title": "x"}, format="json")
    assert response.status_code == 403
    assert "belongs to rep2" in response.json()["detail"]


def test_patch_to_a_taken_email_is_409(api, marketer, make_lead):
    make_lead("suspect", email="taken@example.com")
    lead = make_lead("suspect")
    response = api(marketer).patch(
        f"/api/leads/{lead.pk}/", {"email": "TAKEN@example.com"}, format="json"
    )
    assert response.status_code == 409


def test_history_is_oldest_first_with_the_contract_fields(api, rep, make_lead):
    lead = make_lead("mql")
    move(lead, "sal", rep, note="fits")
    rows = api(rep).get(f"/api/leads/{lead.pk}/transitions/").json()
    assert [(r["from"], r["to"]) for r in rows] == [
        ("", "suspect"),
        ("suspect", "mql"),
        ("mql", "sal"),
    ]
    assert {"from", "to", "actor", "at", "reason", "note"} <= set(rows[-1])
    assert (rows[-1]["actor"], rows[-1]["note"], rows[-1]["verb"]) == ("rep", "fits", "accept")


def test_a_transition_post_answers_201_with_the_row(api, rep, make_lead):
    lead = make_lead("mql")
    response = api(rep).post(
        f"/api/leads/{lead.pk}/transitions/",
        {"to": "nurture", "from": "mql", "reason": "no_budget", "note": "next year"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["from"], body["to"], body["reason"], body["actor"], body["verb"]) == (
        "mql",
        "nurture",
        "no_budget",
        "rep",
        "reject",
    )


def test_convert_through_the_api(api, rep, make_lead):
    lead = make_lead("sql", owner=rep)
    response = api(rep).post(
        f"/api/leads/{lead.pk}/transitions/",
        {"to": "opportunity", "amount": "9000", "expected_close": FUTURE},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["data"]["opportunity"]["amount"] == "9000.00"


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"to": "customer"}, 409, "illegal_transition"),
        ({"to": "sal", "from": "suspect"}, 409, "stale_transition"),
        ({"to": "nurture"}, 400, "invalid"),
        ({"to": "nurture", "reason": "made_up"}, 400, "invalid"),
        ({"to": "heaven"}, 400, "invalid"),
        ({}, 400, "invalid"),
        ({"to": "sal", "note": "x" * 6000}, 400, "invalid"),
    ],
)
def test_refused_transitions_say_why(api, rep, make_lead, payload, status, code):
    lead = make_lead("mql")
    response = api(rep).post(f"/api/leads/{lead.pk}/transitions/", payload, format="json")
    assert response.status_code == status, response.json()
    assert response.json()["code"] == code
    assert response.json()["detail"]
    lead.refresh_from_db()
    assert lead.stage == "mql"
    assert Transition.objects.filter(lead=lead).count() == 2


def test_a_stale_transition_names_the_stage_now(api, rep, make_lead):
    lead = make_lead("sal")
    response = api(rep).post(
        f"/api/leads/{lead.pk}/transitions/", {"to": "sal", "from": "mql"}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["stage"] == "sal"
    assert "it is in sal now" in response.json()["detail"]


def test_a_marketer_cannot_accept_and_a_rep_cannot_touch_a_colleagues_lead(
    api, marketer, rep, rep2, make_lead
):
    lead = make_lead("mql", owner=rep2)
    assert (
        api(marketer)
        .post(f"/api/leads/{lead.pk}/transitions/", {"to": "sal"}, format="json")
        .status_code
        == 403
    )
    response = api(rep).post(f"/api/leads/{lead.pk}/transitions/", {"to": "sal"}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    missing = api(rep).post("/api/leads/424242/transitions/", {"to": "sal"}, format="json")
    assert missing.status_code == 404


def test_reasons_include_the_seeded_codes(api, rep):
    rows = api(rep).get("/api/reasons/").json()
    codes = {row["code"] for row in rows}
    assert {
        "not_in_segment",
        "no_budget",
        "wrong_contact",
        "student_or_job_seeker",
        "competitor",
        "duplicate",
        "bad_data",
        "not_ready_yet",
        "lost_to_competitor",
        "no_decision",
        "spam",
    } <= codes
    assert set(rows[0]) == {"code", "label", "applies_to"}


def test_the_schema_and_docs_are_served(api, client, rep):
    schema = api(rep).get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert {"/api/leads/", "/api/leads/{id}/transitions/", "/api/funnel/"} <= set(paths)
    client.force_login(rep)
    assert b"swagger" in client.get("/api/docs/").content.lower()


def test_campaigns_list_and_create(api, marketer, rep):
    created = api(marketer).post(
        "/api/campaigns/", {"name": "Spring Webinar", "channel": "webinar"}, format="json"
    )
    assert created.status_code == 201
    assert (created.json()["slug"], created.json()["members"]) == ("spring-webinar", 0)
    again = api(marketer).post(
        "/api/campaigns/", {"name": "Spring webinar", "channel": "webinar"}, format="json"
    )
    assert again.status_code == 409 and again.json()["existing_id"] == created.json()["id"]
    bad = api(marketer).post("/api/campaigns/", {"name": "X", "channel": "tv"}, format="json")
    assert bad.status_code == 400 and "channel" in bad.json()["errors"]
    assert (
        api(rep)
        .post("/api/campaigns/", {"name": "R", "channel": "other"}, format="json")
        .status_code
        == 403
    )
    listed = api(rep).get("/api/campaigns/").json()
    assert [c["slug"] for c in listed["results"]] == ["spring-webinar"]


def test_an_inactive_user_cannot_be_given_leads(api, manager, make_lead, make_user):
    gone = make_user("gone", "sales_rep", is_active=False)
    assert gone.groups.filter(name="sales_rep").exists()
    lead = make_lead("mql")
    response = api(manager).patch(f"/api/leads/{lead.pk}/", {"owner": "gone"}, format="json")
    assert response.status_code == 400
    assert "not active" in response.json()["detail"]
    assert Group.objects.filter(name="sales_rep").exists()
