"""The lifecycle service: the table of allowed moves, roles, ownership, fields, the log."""

import itertools

import pytest

from funnel.errors import (
    IllegalTransition,
    InvalidTransition,
    StaleTransition,
    TransitionForbidden,
)
from funnel.lifecycle import RULE_BY_MOVE, RULES, SYSTEM
from funnel.models import Opportunity, Transition
from funnel.services import transition_lead
from funnel.signals import stage_changed
from leads.roles import ADMIN, MANAGER, MARKETER, SALES_REP
from leads.stages import Stage
from tests.conftest import FUTURE, REASON_FOR, VERB_FIELDS, move

pytestmark = pytest.mark.django_db


def _actor_for(rule, users):
    if MANAGER in rule.roles:
        return users["manager"]
    return users["marketer"]


@pytest.fixture
def users(marketer, rep, rep2, manager, admin_user):
    return {
        MARKETER: marketer,
        SALES_REP: rep,
        "rep2": rep2,
        MANAGER: manager,
        ADMIN: admin_user,
        "manager": manager,
        "marketer": marketer,
    }


@pytest.mark.parametrize("rule", RULES, ids=lambda r: f"{r.source}-{r.verb}-{r.target}")
def test_it_makes_every_allowed_transition(
    rule, make_lead, users, django_capture_on_commit_callbacks
):
    lead = make_lead(rule.source)
    before = Transition.objects.filter(lead=lead).count()
    events = []

    def receiver(**kwargs):
        events.append(kwargs)

    stage_changed.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            row = move(lead, rule.target, _actor_for(rule, users), note="why not")
    finally:
        stage_changed.disconnect(receiver)

    assert lead.stage == rule.target
    assert Transition.objects.filter(lead=lead).count() == before + 1
    assert (row.from_stage, row.to_stage, row.verb, row.note) == (
        rule.source,
        rule.target,
        rule.verb,
        "why not",
    )
    assert [(e["from_stage"], e["to_stage"], e["verb"]) for e in events] == [
        (rule.source, rule.target, rule.verb)
    ]
    if rule.needs_reason:
        assert row.reason.code == REASON_FOR[rule.verb]


REFUSED = [
    (source, target)
    for source, target in itertools.product(Stage.values, Stage.values)
    if (source, target) not in RULE_BY_MOVE
]


@pytest.mark.parametrize(("source", "target"), REFUSED, ids=lambda p: str(p))
def test_it_refuses_every_pair_the_table_does_not_list(source, target, make_lead, manager):
    lead = make_lead(source)
    rows = Transition.objects.filter(lead=lead).count()
    with pytest.raises(IllegalTransition) as refused:
        transition_lead(
            lead_id=lead.pk, to=target, actor=manager, reason="spam", fields=VERB_FIELDS["convert"]
        )
    lead.refresh_from_db()
    assert lead.stage == source
    assert Transition.objects.filter(lead=lead).count() == rows
    assert refused.value.status == 409
    assert source in refused.value.message and target in refused.value.message


ROLE_CASES = [(rule, role) for rule in RULES for role in (MARKETER, SALES_REP, MANAGER, ADMIN)]


@pytest.mark.parametrize(
    ("rule", "role"), ROLE_CASES, ids=lambda x: x if isinstance(x, str) else f"{x.source}-{x.verb}"
)
def test_each_role_against_each_verb(rule, role, make_lead, users):
    lead = make_lead(rule.source)
    allowed = role in rule.roles or (role == ADMIN and MANAGER in rule.roles)
    if allowed:
        move(lead, rule.target, users[role])
        assert lead.stage == rule.target
    else:
        with pytest.raises(TransitionForbidden) as refused:
            move(lead, rule.target, users[role])
        assert refused.value.status == 403
        assert rule.verb in refused.value.message
        lead.refresh_from_db()
        assert lead.stage == rule.source


def test_it_lets_the_system_engage_and_recycle_but_nothing_sales_does(make_lead):
    system_rules = [rule for rule in RULES if SYSTEM in rule.roles]
    assert {rule.verb for rule in system_rules} == {"engage", "recycle"}
    lead = make_lead("suspect")
    row = transition_lead(lead_id=lead.pk, to="mql", system_actor="score over 50")
    assert row.actor is None and row.actor_label == "system: score over 50"
    with pytest.raises(TransitionForbidden):
        transition_lead(lead_id=lead.pk, to="sal", system_actor="autoaccept")


def test_a_rep_cannot_touch_a_colleagues_lead(make_lead, rep, rep2):
    lead = make_lead("mql", owner=rep)
    with pytest.raises(TransitionForbidden) as refused:
        move(lead, "sal", rep2)
    assert "belongs to rep" in refused.value.message
    move(lead, "sal", rep)
    assert lead.stage == "sal" and lead.owner == rep


def test_accepting_an_unassigned_mql_makes_the_rep_its_owner(make_lead, rep):
    lead = make_lead("mql")
    assert lead.owner is None
    move(lead, "sal", rep)
    assert lead.owner == rep


def test_a_manager_accepting_leaves_the_owner_alone(make_lead, manager):
    lead = make_lead("mql")
    move(lead, "sal", manager)
    assert lead.owner is None


def test_a_stale_from_is_refused_and_says_who_moved_it(make_lead, rep, rep2):
    lead = make_lead("mql")
    move(lead, "sal", rep)
    with pytest.raises(StaleTransition) as refused:
        transition_lead(
            lead_id=lead.pk, to="nurture", actor=rep2, expected_from="mql", reason="no_budget"
        )
    assert refused.value.status == 409
    assert "no longer in mql" in refused.value.message
    assert "accept by rep" in refused.value.message


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        (None, "needs a reason"),
        ("", "needs a reason"),
        ("nope", "Unknown reason"),
        ("lost_to_competitor", "is not used to reject"),
    ],
)
def test_reject_needs_a_known_reason_that_applies(make_lead, rep, reason, message):
    lead = make_lead("mql")
    with pytest.raises(InvalidTransition) as refused:
        transition_lead(lead_id=lead.pk, to="nurture", actor=rep, reason=reason)
    assert message in refused.value.message
    assert "reason" in refused.value.errors
    lead.refresh_from_db()
    assert lead.stage == "mql"


def test_qualify_needs_every_bant_answer(make_lead, rep):
    lead = make_lead("sal")
    with pytest.raises(InvalidTransition) as refused:
        transition_lead(
            lead_id=lead.pk,
            to="sql",
            actor=rep,
            fields={"budget": "yes", "authority": "  ", "need": "x"},
        )
    assert set(refused.value.errors) == {"authority", "timeline"}
    row = move(lead, "sql", rep)
    assert row.data["qualification"] == VERB_FIELDS["qualify"]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"amount": "-5", "expected_close": FUTURE}, "amount"),
        ({"amount": "0", "expected_close": FUTURE}, "amount"),
        ({"amount": "1e15", "expected_close": FUTURE}, "amount"),
        ({"amount": "NaN", "expected_close": FUTURE}, "amount"),
        ({"amount": "lots", "expected_close": FUTURE}, "amount"),
        ({"amount": "10.005", "expected_close": FUTURE}, "amount"),
        ({"amount": "100"}, "expected_close"),
        ({"amount": "100", "expected_close": "2001-01-01"}, "expected_close"),
        ({"amount": "100", "expected_close": "2199-01-01"}, "expected_close"),
        ({"amount": "100", "expected_close": "31/12/2030"}, "expected_close"),
        ({"amount": "100", "expected_close": "2030-02-30"}, "expected_close"),
        ({"amount": "100", "expected_close": FUTURE, "pipeline_stage": "nope"}, "pipeline_stage"),
    ],
)
def test_convert_refuses_bad_amounts_and_dates(make_lead, rep, fields, field):
    lead = make_lead("sql")
    with pytest.raises(InvalidTransition) as refused:
        transition_lead(lead_id=lead.pk, to="opportunity", actor=rep, fields=fields)
    assert field in refused.value.errors
    assert not Opportunity.objects.filter(lead=lead).exists()


def test_convert_opens_a_deal_that_win_closes(make_lead, rep):
    lead = make_lead("sql", owner=rep)
    move(
        lead,
        "opportunity",
        rep,
        fields={"amount": "25000.50", "expected_close": FUTURE, "pipeline_stage": "proposal"},
    )
    deal = Opportunity.objects.get(lead=lead)
    assert (str(deal.amount), deal.pipeline_stage.slug, deal.status, deal.owner) == (
        "25000.50",
        "proposal",
        "open",
        rep,
    )
    move(lead, "customer", rep)
    deal.refresh_from_db()
    assert deal.status == "won" and deal.closed_at is not None


def test_lose_closes_the_deal_as_lost(make_lead, rep):
    lead = make_lead("opportunity", owner=rep)
    move(lead, "nurture", rep, reason="lost_to_competitor")
    assert Opportunity.objects.get(lead=lead).status == "lost"


def test_a_recycled_lead_keeps_every_lap(make_lead, manager, rep):
    lead = make_lead("nurture")
    transition_lead(lead_id=lead.pk, to="mql", system_actor="clicked nurture e-mail")
    lead.refresh_from_db()
    move(lead, "nurture", rep, reason="not_ready_yet")
    moves = list(Transition.objects.filter(lead=lead).values_list("from_stage", "to_stage"))
    assert moves == [
        ("", "suspect"),
        ("suspect", "mql"),
        ("mql", "nurture"),
        ("nurture", "mql"),
        ("mql", "nurture"),
    ]


def test_unknown_stages_are_invalid_not_illegal(make_lead, manager):
    lead = make_lead("mql")
    with pytest.raises(InvalidTransition) as refused:
        transition_lead(lead_id=lead.pk, to="won", actor=manager)
    assert refused.value.errors == {"to": [f"Use one of: {', '.join(Stage.values)}."]}
    with pytest.raises(InvalidTransition):
        transition_lead(lead_id=lead.pk, to="sal", actor=manager, expected_from="MQL")


def test_the_log_is_append_only(make_lead):
    lead = make_lead("mql")
    row = Transition.objects.filter(lead=lead).first()
    with pytest.raises(TypeError):
        row.save()
    with pytest.raises(TypeError):
        row.delete()
    with pytest.raises(TypeError):
        Transition.objects.filter(lead=lead).update(note="rewritten")
    with pytest.raises(TypeError):
        Transition.objects.filter(lead=lead).delete()
    assert Transition.objects.filter(lead=lead).count() == 2
