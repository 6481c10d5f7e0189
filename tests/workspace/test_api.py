"""The workspace through the API: single and bulk decisions, ownership, bad input."""

import pytest

from tests.conftest import FUTURE

pytestmark = pytest.mark.django_db
BULK = "/api/leads/bulk-transitions/"


def _stage(lead):
    lead.refresh_from_db()
    return lead.stage


def test_bulk_accept_does_the_allowed_ones_and_reports_each_lead(api, make_lead, rep, rep2):
    mine, free = make_lead("mql", owner=rep), make_lead("mql")
    theirs, moved = make_lead("mql", owner=rep2), make_lead("sql", owner=rep)
    response = api(rep).post(
        BULK,
        {"to": "sal", "from": "mql", "leads": [mine.pk, free.pk, theirs.pk, moved.pk, 999999]},
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["done"], body["refused"]) == (2, 3)
    by_lead = {r["lead"]: r for r in body["results"]}
    assert [r["lead"] for r in body["results"]] == [mine.pk, free.pk, theirs.pk, moved.pk, 999999]
    assert by_lead[mine.pk]["status"] == 201
    assert by_lead[mine.pk]["transition"]["to"] == "sal"
    assert by_lead[mine.pk]["transition"]["from"] == "mql"
    assert by_lead[theirs.pk]["status"] == 403
    assert by_lead[theirs.pk]["code"] == "permission_denied"
    assert "belongs to rep2" in by_lead[theirs.pk]["detail"]
    assert (by_lead[moved.pk]["status"], by_lead[moved.pk]["code"]) == (409, "stale_transition")
    assert "it is in sql now" in by_lead[moved.pk]["detail"]
    assert by_lead[999999]["status"] == 404
    assert [_stage(x) for x in (mine, free, theirs, moved)] == ["sal", "sal", "mql", "sql"]


def test_bulk_reject_without_a_reason_refuses_each_with_a_400(api, make_lead, rep):
    leads = [make_lead("mql", owner=rep) for _ in range(2)]
    body = api(rep).post(BULK, {"to": "nurture", "leads": [x.pk for x in leads]}).json()
    assert body["done"] == 0
    assert {r["status"] for r in body["results"]} == {400}
    assert body["results"][0]["errors"]["reason"]
    body = (
        api(rep)
        .post(BULK, {"to": "nurture", "reason": "no_budget", "leads": [x.pk for x in leads]})
        .json()
    )
    assert body["done"] == 2


@pytest.mark.parametrize(
    "payload",
    [
        {"to": "sal"},
        {"to": "sal", "leads": []},
        {"to": "sal", "leads": "1,2"},
        {"to": "sal", "leads": ["x"]},
        {"to": "moon", "leads": [1]},
        {"leads": [1]},
        ["not", "an", "object"],
    ],
)
def test_bulk_refuses_malformed_requests(api, rep, payload):
    response = api(rep).post(BULK, payload, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_bulk_refuses_too_many_leads(api, rep, settings):
    settings.HANDOFF_BULK_MAX = 3
    response = api(rep).post(BULK, {"to": "sal", "leads": [1, 2, 3, 4]})
    assert response.status_code == 400
    assert response.json()["detail"] == "At most 3 leads at once."


def test_bulk_needs_a_role(api, nobody, make_lead):
    lead = make_lead("mql")
    assert api(nobody).post(BULK, {"to": "sal", "leads": [lead.pk]}).status_code == 403
    assert api().post(BULK, {"to": "sal", "leads": [lead.pk]}).status_code in (401, 403)
    assert _stage(lead) == "mql"


def test_a_colleagues_lead_is_a_403_on_the_transitions_endpoint(api, make_lead, rep, rep2):
    lead = make_lead("sql", owner=rep2)
    response = api(rep).post(
        f"/api/leads/{lead.pk}/transitions/",
        {"to": "opportunity", "from": "sql", "amount": "100", "expected_close": FUTURE},
    )
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert _stage(lead) == "sql"


def test_the_transitions_endpoint_carries_a_lead_to_customer(api, make_lead, rep):
    lead = make_lead("mql")
    client = api(rep)
    url = f"/api/leads/{lead.pk}/transitions/"
    steps = [
        {"to": "sal", "from": "mql"},
        {"to": "sql", "budget": "b", "authority": "a", "need": "n", "timeline": "t"},
        {"to": "opportunity", "amount": "5000", "expected_close": FUTURE},
        {"to": "customer"},
    ]
    for step in steps:
        assert client.post(url, step).status_code == 201, step
    assert _stage(lead) == "customer"
    response = client.post(url, {"to": "opportunity", "amount": "-1", "expected_close": FUTURE})
    assert response.status_code == 409


def test_converting_with_an_absurd_amount_is_a_400_with_nothing_written(api, make_lead, rep):
    from funnel.models import Opportunity, Transition

    lead = make_lead("sql", owner=rep)
    rows = Transition.objects.filter(lead=lead).count()
    response = api(rep).post(
        f"/api/leads/{lead.pk}/transitions/",
        {"to": "opportunity", "amount": "1e20", "expected_close": FUTURE},
    )
    assert response.status_code == 400
    assert "amount" in response.json()["errors"]
    assert Transition.objects.filter(lead=lead).count() == rows
    assert not Opportunity.objects.filter(lead=lead).exists()
