"""Who owns an MQL: round robin among active reps (by territory when a rule matches),
claims of unassigned leads, and managers' reassignments."""

import datetime as dt
import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F, OuterRef, Subquery
from django.utils import timezone

from leads.models import Lead
from leads.roles import SALES_REP, has_role
from leads.stages import Stage

from .errors import (
    AlreadyTaken,
    LeadNotFound,
    NotClaimable,
    TransitionForbidden,
)
from .models import TerritoryRule, Transition, WorkspaceSettings

logger = logging.getLogger(__name__)


def active_reps() -> list:
    """Active sales reps, in a stable order (the order the round robin walks)."""
    return list(
        get_user_model()
        .objects.filter(is_active=True, groups__name=SALES_REP)
        .distinct()
        .order_by("pk")
    )


def _next_in_turn(pool: list, last_id: int | None):
    for user in pool:
        if last_id is None or user.pk > last_id:
            return user
    return pool[0]


def _territory_for(lead: Lead, reps: list):
    """The first active rule whose countries include the lead's, with its active reps."""
    country = (lead.country or "").strip().lower()
    if not country:
        return None, []
    for rule in TerritoryRule.objects.filter(is_active=True).prefetch_related("reps"):
        if country in {str(c).strip().lower() for c in rule.countries or []}:
            team_ids = {user.pk for user in rule.reps.all()}
            team = [rep for rep in reps if rep.pk in team_ids]
            if team:
                return rule, team
    return None, []


def lead_assign_round_robin(*, lead_id: int):
    """Give an unassigned MQL to the next active rep in turn; the chosen user, or None.

    The settings row (or the territory rule) is locked while its cursor moves, so two
    MQLs arriving at once go to two different reps.
    """
    with transaction.atomic():
        lead = (
            Lead.objects.select_for_update(of=("self",))
            .filter(pk=lead_id, stage=Stage.MQL, owner__isnull=True)
            .first()
        )
        if lead is None:
            return None
        workspace = WorkspaceSettings.objects.select_for_update().filter(pk=1).first()
        if workspace is None:
            workspace = WorkspaceSettings.load()
        if not workspace.round_robin:
            return None
        reps = active_reps()
        if not reps:
            return None
        rule, team = _territory_for(lead, reps)
        cursor = workspace
        pool = reps
        if rule is not None:
            cursor = TerritoryRule.objects.select_for_update().get(pk=rule.pk)
            pool = team
        chosen = _next_in_turn(pool, cursor.last_assigned_id)
        lead.owner = chosen
        lead.save(update_fields=["owner", "updated_at"])
        cursor.last_assigned = chosen
        cursor.save(update_fields=["last_assigned"])
    return chosen


def assign_new_mql(sender=None, *, lead_id, to_stage, **kwargs) -> None:
    """`stage_changed` receiver: an MQL that arrives unassigned gets an owner."""
    if to_stage != Stage.MQL:
        return
    try:
        lead_assign_round_robin(lead_id=lead_id)
    except Exception:
        # The move itself is committed; a failed assignment leaves the lead in the
        # unassigned queue, where any rep can claim it.
        logger.exception("round robin failed for lead %s", lead_id)


def assignments_reconcile(
    *,
    now: dt.datetime,
    grace: dt.timedelta | None = None,
    window: dt.timedelta | None = None,
    limit: int | None = None,
) -> int:
    """Give an owner to MQLs whose on-commit round robin was lost; returns how many.

    `assign_new_mql` runs after the move's commit, in the process that made it: a process
    that died in between, or an assignment that raised, leaves the MQL unassigned. The
    candidates are unassigned MQLs that arrived more than `grace` ago (a reaction still in
    flight is not raced) and less than `window` ago, untouched since they arrived (a lead
    edited or handed back to nobody after its arrival is left to people), whose entry into
    MQL was announced (an import's history never assigns, so the reconciler leaves it too),
    `limit` per run, oldest first. Each goes through `lead_assign_round_robin`, which checks
    the lead again under its row lock and honours the workspace's round-robin switch.
    """
    from .imports import IMPORT_VERB

    if grace is None:
        grace = dt.timedelta(seconds=settings.HANDOFF_ASSIGNMENT_RECONCILE_GRACE_SECONDS)
    if window is None:
        window = dt.timedelta(days=settings.HANDOFF_ASSIGNMENT_RECONCILE_WINDOW_DAYS)
    limit = limit or settings.HANDOFF_ASSIGNMENT_RECONCILE_MAX
    workspace = WorkspaceSettings.objects.filter(pk=1).first()
    if workspace is not None and not workspace.round_robin:
        return 0
    entry_verb = (
        Transition.objects.filter(lead_id=OuterRef("pk"), to_stage=Stage.MQL)
        .order_by("-at", "-id")
        .values("verb")[:1]
    )
    candidates = list(
        Lead.objects.filter(
            stage=Stage.MQL,
            owner__isnull=True,
            stage_changed_at__gt=now - window,
            stage_changed_at__lte=now - grace,
            updated_at__lte=F("stage_changed_at") + grace,
        )
        .annotate(entry_verb=Subquery(entry_verb))
        .exclude(entry_verb=IMPORT_VERB)
        .order_by("stage_changed_at", "id")
        .values_list("pk", flat=True)[:limit]
    )
    repaired = 0
    for lead_id in candidates:
        if lead_assign_round_robin(lead_id=lead_id) is not None:
            repaired += 1
    return repaired


def lead_claim(*, lead_id: int, actor) -> Lead:
    """A sales rep takes an unassigned MQL. 409 when someone else took it first, or when the
    lead is not an MQL (a suspect or a nurtured lead is marketing's, not the queue's)."""
    if not has_role(actor, SALES_REP):
        raise TransitionForbidden("Only sales reps claim leads; managers reassign them.")
    with transaction.atomic():
        taken = Lead.objects.filter(pk=lead_id, owner__isnull=True, stage=Stage.MQL).update(
            owner=actor, updated_at=timezone.now()
        )
        lead = Lead.objects.select_related("owner").filter(pk=lead_id).first()
        if lead is None:
            raise LeadNotFound("No such lead.")
        if not taken and lead.owner_id is None:
            raise NotClaimable(
                f"Lead {lead.pk} is in {lead.stage}: only MQLs are claimed from the queue.",
                lead_id=lead.pk,
            )
        if not taken and lead.owner_id != actor.pk:
            raise AlreadyTaken(
                f"{lead.owner.get_username()} already took lead {lead.pk}.", lead_id=lead.pk
            )
    return lead


def lead_reassign(*, lead_id: int, actor, owner) -> Lead:
    """A manager gives a lead to another user (or to nobody with owner=None); the change is
    written to the lead's timeline and its open deal follows (funnel.lead_edits)."""
    from .lead_edits import lead_owner_change

    return lead_owner_change(lead_id=lead_id, actor=actor, owner=owner)
