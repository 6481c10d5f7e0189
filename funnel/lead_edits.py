"""Changes to a lead's record made by people: field edits, owner changes, handing a lead back
to the queue. The lead page and `PATCH /api/leads/{id}/` both go through `lead_edit`, and every
change is written to the lead's timeline (`LeadChange`: old -> new, who, when)."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from leads.models import Lead
from leads.roles import is_manager
from leads.services import lead_update

from .errors import InvalidTransition, LeadNotFound, TransitionForbidden
from .models import LeadChange, Opportunity, Task


def _shown(field: str, value) -> str:
    if value is None:
        return ""
    if field == "owner":
        return value.get_username()
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _log(lead: Lead, actor, field: str, old, new, at) -> LeadChange | None:
    old_text, new_text = _shown(field, old), _shown(field, new)
    if old_text == new_text:
        return None
    return LeadChange.objects.create(
        lead=lead, field=field, old=old_text, new=new_text, actor=actor, at=at
    )


def _locked(lead_id: int) -> Lead:
    lead = Lead.objects.select_for_update(of=("self",)).filter(pk=lead_id).first()
    if lead is None:
        raise LeadNotFound("No such lead.")
    return lead


def _deal_owner_follows(lead: Lead, actor, at, *, old_owner=None) -> None:
    """The lead's open deal belongs to whoever owns the lead, and the old owner's open tasks
    on it go to the new owner (a lead handed back to the queue leaves them with the rep)."""
    deal = Opportunity.objects.filter(lead=lead, status=Opportunity.Status.OPEN).first()
    if deal is not None and deal.owner_id != lead.owner_id:
        old = deal.owner
        deal.owner = lead.owner
        deal.save(update_fields=["owner"])
        _log(lead, actor, "deal owner", old, lead.owner, at)
    if old_owner is not None and lead.owner_id is not None and old_owner.pk != lead.owner_id:
        Task.objects.filter(lead=lead, owner=old_owner, done_at__isnull=True).update(
            owner=lead.owner
        )


def lead_edit(*, lead_id: int, actor, changes: dict, consent_reason: str = "") -> Lead:
    """Change a lead's fields (and, for managers, its owner), logging each change. Giving
    e-mail consent back takes a manager and `consent_reason` (leads.services.lead_update).

    Raises TransitionForbidden (403), LeadNotFound (404), ValidationError or DuplicateLead.
    """
    with transaction.atomic():
        lead = _locked(lead_id)
        before = {field: getattr(lead, field) for field in changes}
        changes = dict(changes)
        # Its owner hands a lead back (owner None) as on the page; other owners are managers'.
        hand_back = (
            "owner" in changes
            and changes["owner"] in (None, "")
            and lead.owner_id == actor.pk
            and not is_manager(actor)
        )
        if hand_back:
            changes.pop("owner")
        try:
            # Checked while the lead is still the actor's: handing it back is the last change.
            lead = lead_update(
                lead=lead, actor=actor, changes=changes, consent_reason=consent_reason
            )
        except PermissionDenied as exc:
            raise TransitionForbidden(str(exc)) from None
        if hand_back:
            lead.owner = None
            lead.save(update_fields=["owner", "updated_at"])
        at = timezone.now()
        for field, old in before.items():
            _log(lead, actor, field, old, getattr(lead, field), at)
        if "owner" in before:
            _deal_owner_follows(lead, actor, at, old_owner=before["owner"])
    return lead


def lead_owner_change(*, lead_id: int, actor, owner) -> Lead:
    """A manager gives any lead (and its open deal) to another user, or to nobody."""
    if not is_manager(actor):
        raise TransitionForbidden("Only managers reassign leads.")
    try:
        return lead_edit(lead_id=lead_id, actor=actor, changes={"owner": owner})
    except ValidationError as exc:
        raise InvalidTransition(exc.messages[0], errors={"owner": exc.messages}) from None


def lead_hand_back(*, lead_id: int, actor) -> Lead:
    """The lead's owner gives it back to the queue: unassigned, for any rep to claim."""
    with transaction.atomic():
        lead = _locked(lead_id)
        if lead.owner_id is None:
            raise InvalidTransition("This lead is unassigned already.")
        if lead.owner_id != actor.pk and not is_manager(actor):
            raise TransitionForbidden(
                f"Lead {lead.pk} belongs to {lead.owner.get_username()}; "
                "only its owner or a manager hands it back."
            )
        old = lead.owner
        lead.owner = None
        lead.save(update_fields=["owner", "updated_at"])
        at = timezone.now()
        _log(lead, actor, "owner", old, None, at)
        _deal_owner_follows(lead, actor, at)
    return lead
