"""Every verb's form on the lead page, with its bad input refused and nothing half-written."""

import pytest

from funnel.models import Opportunity, Transition
from tests.conftest import FUTURE

pytestmark = pytest.mark.django_db

BANT_ANSWERS = {
    "budget": "40k this year",
    "authority": "CFO signs",
    "need": "Leads lost between teams",
    "timeline": "Decide in Q3",
}

GOOD = [
    ("mql", "sal", {}),
    ("mql", "nurture", {"reason": "no_budget"}),
    ("mql", "junk", {"reason": "spam"}),
    ("sal", "sql", BANT_ANSWERS),
    ("sal", "nurture", {"reason": "no_authority"}),
    (
        "sql",
        "opportunity",
        {"amount": "25000", "expected_close": FUTURE, "pipeline_stage": "discovery"},
    ),
    ("sql", "nurture", {"reason": "no_decision"}),
    ("opportunity", "customer", {}),
    ("opportunity", "nurture", {"reason": "price"}),
]

BAD = [
    ("mql", "nurture", {}, "reason"),
    ("mql", "junk", {"reason": ""}, "reason"),
    ("sal", "sql", {**BANT_ANSWERS, "authority": ""}, "authority"),
    ("sal", "nurture", {}, "reason"),
    (
        "sql",
        "opportunity",
        {"amount": "-5", "expected_close": FUTURE, "pipeline_stage": "discovery"},
        "amount",
    ),
    (
        "sql",
        "opportunity",
        {"amount": "9" * 13, "expected_close": FUTURE, "pipeline_stage": "discovery"},
        "amount",
    ),
    (
        "sql",
        "opportunity",
        {"amount": "100", "expected_close": "2001-01-01", "pipeline_stage": "discovery"},
        "expected_close",
    ),
    ("opportunity", "nurture", {"reason": "spam"}, "reason"),
]


@pytest.mark.parametrize(("source", "target", "fields"), GOOD, ids=lambda v: str(v)[:20])
def test_every_verbs_form_moves_the_lead(client_for, make_lead, rep, source, target, fields):
    lead = make_lead(source, owner=rep)
    page = client_for(rep).get(f"/leads/{lead.pk}/").content.decode()
    assert f'name="to" value="{target}"' in page
    response = client_for(rep).post(
        f"/leads/{lead.pk}/move/", {"to": target, "from_stage": source, **fields}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    lead.refresh_from_db()
    assert lead.stage == target
    row = Transition.objects.filter(lead=lead).last()
    assert (row.from_stage, row.to_stage) == (source, target)
    if target == "sql":
        assert row.data["qualification"] == BANT_ANSWERS
    if target == "opportunity":
        assert Opportunity.objects.get(lead=lead).amount == 25000


@pytest.mark.parametrize(("source", "target", "fields", "field"), BAD, ids=lambda v: str(v)[:20])
def test_every_verbs_form_refuses_bad_input(
    client_for, make_lead, rep, source, target, fields, field
):
    lead = make_lead(source, owner=rep)
    rows = Transition.objects.filter(lead=lead).count()
    response = client_for(rep).post(
        f"/leads/{lead.pk}/move/", {"to": target, "from_stage": source, **fields}
    )
    assert response.status_code == 400
    form = next(f for f in response.context["action_forms"] if f.rule.target == target)
    assert form.errors.get(field), form.errors
    lead.refresh_from_db()
    assert lead.stage == source
    assert Transition.objects.filter(lead=lead).count() == rows
    assert not Opportunity.objects.filter(lead=lead, status="open").exists() or source == (
        "opportunity"
    )


def test_the_lead_page_shows_an_mqls_criteria_and_sla_clock(client_for, make_lead, rep):
    lead = make_lead("mql", owner=rep, email="bo@yahoo.com")
    html = client_for(rep).get(f"/leads/{lead.pk}/").content.decode()
    assert "Acceptance criteria" in html
    assert "yahoo.com is a free-mail domain." in html
    assert "Within SLA" in html


def test_a_rep_is_offered_no_action_on_a_colleagues_lead(client_for, make_lead, rep, rep2):
    lead = make_lead("sal", owner=rep2)
    html = client_for(rep).get(f"/leads/{lead.pk}/").content.decode()
    assert "Owned by rep2 — only they or a manager can move this lead." in html
    response = client_for(rep).post(
        f"/leads/{lead.pk}/move/", {"to": "sql", "from_stage": "sal", **BANT_ANSWERS}
    )
    assert response.status_code == 403
    lead.refresh_from_db()
    assert lead.stage == "sal"


def test_a_rep_claims_an_unassigned_mql_from_its_page(client_for, make_lead, rep, rep2):
    lead = make_lead("mql")
    assert "Claim" in client_for(rep).get(f"/leads/{lead.pk}/").content.decode()
    response = client_for(rep).post(f"/queue/{lead.pk}/claim/", {"back": "lead"})
    assert response["Location"] == f"/leads/{lead.pk}/"
    lead.refresh_from_db()
    assert lead.owner == rep
    assert "Claim" not in client_for(rep2).get(f"/leads/{lead.pk}/").content.decode()
