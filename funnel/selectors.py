"""Reads for the funnel: a lead's history, the actions a user may take, the funnel snapshot."""

from leads.models import Lead
from leads.roles import SALES_REP, roles_of
from leads.selectors import can_act_on

from .lifecycle import Rule, rules_from
from .models import PipelineStage, ReasonCode


def lead_history(lead: Lead):
    return lead.transitions.select_related("actor", "reason", "campaign").order_by("at", "id")


def actions_for(user, lead: Lead) -> list[Rule]:
    """The transitions this user may make on this lead now: what the lead page offers."""
    held = roles_of(user)
    actions = []
    for rule in rules_from(lead.stage):
        if not held & rule.roles:
            continue
        if rule.is_sales and SALES_REP in held and not can_act_on(user, lead):
            continue
        actions.append(rule)
    return actions


def reasons_for(verb: str) -> list[ReasonCode]:
    return [code for code in ReasonCode.objects.filter(is_active=True) if code.applies(verb)]


def active_pipeline_stages():
    return PipelineStage.objects.filter(is_active=True)
