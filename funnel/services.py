"""The one place that writes a lead's stage: creation and every transition.

A transition locks the lead's row, re-reads its stage, refuses what the
lifecycle table does not allow, writes the stage and the log row in one
transaction, and sends `stage_changed` on commit.
"""

import datetime as dt
from functools import partial

from django.db import IntegrityError, transaction
from django.utils import timezone

from leads.models import Lead
from leads.roles import SALES_REP, roles_of
from leads.selectors import can_act_on, ownership_refusal
from leads.services import lead_build
from leads.stages import Stage

from .criteria import criteria_results
from .errors import (
    IllegalTransition,
    InvalidTransition,
    LeadNotFound,
    StaleTransition,
    TransitionForbidden,
)
from .lifecycle import ENTRY_STAGES, SYSTEM, Rule, rule_for, rules_from
from .models import Opportunity, Transition
from .signals import stage_changed
from .verb_fields import clean_conversion, clean_qualification, clean_reason

_STAGES = set(Stage.values)
MAX_NOTE = 5000


def stage_changed_arguments(row: Transition) -> dict:
    """What `stage_changed` says of a move: its receivers' keyword arguments."""
    return {
        "lead_id": row.lead_id,
        "transition_id": row.pk,
        "from_stage": row.from_stage,
        "to_stage": row.to_stage,
        "verb": row.verb,
        "reason": row.reason.code if row.reason_id else "",
    }


def _announce_on_commit(row: Transition) -> None:
    """Tell other apps about the move once it is committed, never before."""
    transaction.on_commit(
        partial(stage_changed.send, sender=Transition, **stage_changed_arguments(row))
    )


def _clean_stage(value, field: str) -> str:
    if value not in _STAGES:
        raise InvalidTransition(
            f"{value!r} is not a stage.",
            errors={field: [f"Use one of: {', '.join(Stage.values)}."]},
        )
    return value


def _clean_note(note) -> str:
    note = "" if note is None else str(note).strip()
    if len(note) > MAX_NOTE:
        raise InvalidTransition(
            "The note is too long.", errors={"note": [f"Keep notes under {MAX_NOTE} characters."]}
        )
    return note


def _who(actor, system_actor: str) -> str:
    return actor.get_username() if actor is not None else f"system ({system_actor or 'unnamed'})"


def _check_actor(rule: Rule, lead: Lead, actor, system_actor: str) -> None:
    if actor is None:
        if SYSTEM not in rule.roles:
            raise TransitionForbidden(f"Only a person can {rule.verb} a lead.")
        if not system_actor:
            raise ValueError("A system transition names the rule or job that made it.")
        return
    held = roles_of(actor)
    if not held & rule.roles:
        allowed = sorted(role.replace("_", " ") + "s" for role in rule.roles if role != SYSTEM)
        raise TransitionForbidden(
            f"Only {' and '.join(allowed)} can {rule.verb} a lead in {lead.stage}."
        )
    if rule.is_sales and SALES_REP in held and not can_act_on(actor, lead):
        raise TransitionForbidden(ownership_refusal(actor, lead))


def _stale_message(lead: Lead, expected_from: str) -> str:
    last = lead.transitions.select_related("actor").order_by("-at", "-id").first()
    detail = ""
    if last is not None:
        detail = (
            f" ({last.verb} by {last.actor_label} at {timezone.localtime(last.at):%Y-%m-%d %H:%M})"
        )
    return f"This lead is no longer in {expected_from}: it is in {lead.stage} now{detail}."


def _illegal_message(lead: Lead, target: str) -> str:
    if lead.stage == target:
        return f"The lead is already in {target}."
    onward = [rule.target for rule in rules_from(lead.stage)]
    where = f"it can go to {', '.join(onward)}" if onward else "it cannot move"
    return f"A lead in {lead.stage} cannot move to {target}; from {lead.stage} {where}."


def transition_lead(
    *,
    lead_id: int,
    to: str,
    actor=None,
    system_actor: str = "",
    expected_from: str | None = None,
    reason=None,
    note: str = "",
    fields: dict | None = None,
    campaign=None,
    at: dt.datetime | None = None,
) -> Transition:
    """Move one lead to `to`. Raises a `funnel.errors.TransitionError` when refused."""
    to = _clean_stage(to, "to")
    if expected_from not in (None, ""):
        expected_from = _clean_stage(expected_from, "from")
    note = _clean_note(note)
    fields = fields or {}

    with transaction.atomic():
        lead = Lead.objects.select_for_update(of=("self",)).filter(pk=lead_id).first()
        if lead is None:
            raise LeadNotFound("No such lead.")
        # Stamped once the lock is held: a request that queued behind another move on this
        # lead is logged after it, so the log's order (at, id) stays the lead's history and
        # its last row its stage. (A caller's own `at` is history it writes, kept as given.)
        at = at or timezone.now()
        if expected_from and lead.stage != expected_from:
            raise StaleTransition(
                _stale_message(lead, expected_from), stage=lead.stage, lead_id=lead.pk
            )
        rule = rule_for(lead.stage, to)
        if rule is None:
            raise IllegalTransition(_illegal_message(lead, to), stage=lead.stage, lead_id=lead.pk)
        _check_actor(rule, lead, actor, system_actor)

        reason_code = clean_reason(rule, reason)
        data: dict = {}
        if rule.verb == "qualify":
            data["qualification"] = clean_qualification(fields)
        elif rule.verb == "convert":
            conversion = clean_conversion(fields, today=timezone.localdate(at))
        elif rule.verb in ("accept", "reject"):
            data["criteria"] = criteria_results(lead)

        from_stage = lead.stage
        lead.stage = to
        lead.stage_changed_at = at
        update_fields = ["stage", "stage_changed_at", "updated_at"]
        accepted_unassigned = rule.verb == "accept" and lead.owner_id is None
        if accepted_unassigned and actor is not None and SALES_REP in roles_of(actor):
            lead.owner = actor
            update_fields.append("owner")
        lead.save(update_fields=update_fields)

        if rule.verb == "convert":
            opportunity = Opportunity.objects.create(
                lead=lead,
                amount=conversion["amount"],
                currency=conversion["currency"],
                expected_close=conversion["expected_close"],
                pipeline_stage=conversion["pipeline_stage"],
                owner=lead.owner or actor,
                created_at=at,
            )
            data["opportunity"] = {
                "id": opportunity.pk,
                "amount": str(opportunity.amount),
                "currency": opportunity.currency,
                "expected_close": opportunity.expected_close.isoformat(),
                "pipeline_stage": opportunity.pipeline_stage.slug,
            }
        elif rule.verb in ("win", "lose"):
            status = Opportunity.Status.WON if rule.verb == "win" else Opportunity.Status.LOST
            closed = Opportunity.objects.filter(lead=lead, status=Opportunity.Status.OPEN).update(
                status=status, closed_at=at
            )
            data["opportunities_closed"] = closed

        row = Transition.objects.create(
            lead=lead,
            from_stage=from_stage,
            to_stage=to,
            verb=rule.verb,
            actor=actor,
            system_actor="" if actor is not None else system_actor,
            at=at,
            reason=reason_code,
            note=note,
            campaign=campaign,
            data=data,
        )
        _announce_on_commit(row)
    return row


def lead_create(
    *,
    actor=None,
    system_actor: str = "",
    fields: dict,
    stage: str = Stage.SUSPECT,
    campaign=None,
    note: str = "",
    at: dt.datetime | None = None,
) -> Lead:
    """Create a lead in an entry stage, with the first row of its log.

    Raises ValidationError (bad fields), DuplicateLead (409) or TransitionForbidden.
    """
    stage = _clean_stage(stage, "stage")
    if stage not in ENTRY_STAGES:
        raise InvalidTransition(
            f"A new lead starts in {' or '.join(ENTRY_STAGES)}, not {stage}.",
            errors={"stage": [f"Use {' or '.join(ENTRY_STAGES)}."]},
        )
    if actor is not None and not roles_of(actor):
        raise TransitionForbidden("Your account has no Handoff role.")
    engage = rule_for(Stage.SUSPECT, stage)
    if actor is not None and engage is not None and not roles_of(actor) & engage.roles:
        # A lead created in MQL skips the engagement: only who may engage a suspect may.
        allowed = sorted(role.replace("_", " ") + "s" for role in engage.roles if role != SYSTEM)
        raise TransitionForbidden(
            f"Only {' and '.join(allowed)} can create a lead in {stage}; "
            f"create it as a suspect, or take an MQL from the queue."
        )
    if actor is None and not system_actor:
        raise ValueError("A lead created by the system names the job that made it.")
    at = at or timezone.now()
    lead = lead_build(**fields)
    lead.stage = stage
    lead.stage_changed_at = at
    lead.created_at = at
    try:
        with transaction.atomic():
            lead.save()
            row = Transition.objects.create(
                lead=lead,
                from_stage="",
                to_stage=stage,
                verb="create",
                actor=actor,
                system_actor="" if actor is not None else system_actor,
                at=at,
                note=_clean_note(note),
                campaign=campaign,
            )
            _announce_on_commit(row)
    except IntegrityError:
        # Usually another request created the same e-mail or external id a moment ago:
        # building again finds it and raises DuplicateLead; anything else is re-raised.
        lead_build(**fields)
        raise
    return lead
