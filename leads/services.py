"""Writes to the lead record other than its stage (which only `funnel.services` writes)."""

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

# The lead's fields come from the one spec; TEXT_FIELDS is re-exported for older imports.
from .fields import EDITABLE_FIELDS, ERASED_VALUES
from .fields import TEXT_FIELDS as TEXT_FIELDS
from .models import Erasure, Lead
from .normalise import clean_email, normalise_external_id
from .roles import is_manager
from .selectors import can_edit, edit_refusal
from .signals import lead_consent_changed, lead_erased


class DuplicateLead(Exception):
    """The e-mail or external id already belongs to another lead."""

    def __init__(self, existing: Lead, field: str):
        self.existing = existing
        self.field = field
        super().__init__(
            f"A lead with this {field.replace('_', ' ')} exists already (id {existing.pk})."
        )


def _check_identity(lead: Lead) -> None:
    lead.email = clean_email(lead.email)
    lead.external_id = normalise_external_id(lead.external_id)
    if not lead.email and not lead.external_id:
        raise ValidationError("A lead needs an e-mail or an external id.")
    for field in ("email", "external_id"):
        value = getattr(lead, field)
        if value:
            existing = Lead.objects.filter(**{field: value}).exclude(pk=lead.pk).first()
            if existing:
                raise DuplicateLead(existing, field)


def lead_build(**fields) -> Lead:
    """A validated, unsaved lead; raises ValidationError or DuplicateLead."""
    unknown = set(fields) - set(EDITABLE_FIELDS) - {"owner"}
    if unknown:
        raise ValidationError(f"Unknown lead fields: {', '.join(sorted(unknown))}")
    lead = Lead(**fields)
    _check_identity(lead)
    return lead


def lead_update(*, lead: Lead, actor, changes: dict, consent_reason: str = "") -> Lead:
    """Change a lead's fields. `actor` None is the system (a capture): it passes the checks
    a person's edit meets, but it never gives consent back."""
    unknown = set(changes) - set(EDITABLE_FIELDS) - {"owner"}
    if unknown:
        raise ValidationError(f"Unknown lead fields: {', '.join(sorted(unknown))}")
    if actor is not None and not can_edit(actor, lead):
        raise PermissionDenied(edit_refusal(actor, lead))
    consent = _consent_change(lead=lead, actor=actor, changes=changes, reason=consent_reason)
    if "owner" in changes:
        lead_assign(lead=lead, actor=actor, owner=changes.pop("owner"), save=False)
    for field, value in changes.items():
        setattr(lead, field, value)
    _check_identity(lead)
    try:
        with transaction.atomic():
            lead.save()
            if consent is not None:
                lead_consent_changed.send(
                    sender=Lead, lead_id=lead.pk, actor=actor, reason=consent_reason, **consent
                )
    except IntegrityError as exc:
        # A concurrent writer took the e-mail or external id between the check and the save.
        existing = (
            Lead.objects.filter(email=lead.email).exclude(pk=lead.pk).first()
            if lead.email
            else None
        )
        if existing is None and lead.external_id:
            existing = Lead.objects.filter(external_id=lead.external_id).exclude(pk=lead.pk).first()
        if existing is not None:
            raise DuplicateLead(
                existing, "email" if existing.email == lead.email else "external_id"
            ) from exc
        raise
    return lead


def _consent_change(*, lead: Lead, actor, changes: dict, reason: str) -> dict | None:
    """Consent to e-mail: anyone who edits the lead may record that the person does not want
    e-mail; only the person (the unsubscribe link) withdraws that, or a manager who says
    why (`reason`, logged with the change). Returns the change to log, or None."""
    if "do_not_email" not in changes or bool(changes["do_not_email"]) == lead.do_not_email:
        return None
    if changes["do_not_email"]:
        return {"do_not_email": True}
    if actor is None or not is_manager(actor):
        raise PermissionDenied(
            f"Lead {lead.pk} does not want e-mail. Only the person (by a new consent) or a "
            "manager, giving the reason, can change that."
        )
    if not (reason or "").strip():
        raise ValidationError(
            {"consent_reason": ["Say why this person may be e-mailed again (it is logged)."]}
        )
    return {"do_not_email": False}


def lead_assign(*, lead: Lead, actor, owner, save: bool = True) -> Lead:
    """Managers (re)assign leads; owner is a user, a username, or None."""
    if not is_manager(actor):
        raise PermissionDenied("Only managers assign leads to owners.")
    if isinstance(owner, str):
        user = get_user_model().objects.filter(username=owner).first()
        if user is None:
            raise ValidationError(f"There is no user {owner!r}.")
        owner = user
    if owner is not None and not owner.is_active:
        raise ValidationError(f"{owner.get_username()} is not active and cannot own leads.")
    lead.owner = owner
    if save:
        lead.save(update_fields=["owner", "updated_at"])
    return lead


# Every lead field that can hold personal data, and what it becomes when erased:
# ERASED_VALUES, from leads.fields.


def lead_erase(*, lead_id: int, actor, reason: str = "") -> Erasure:
    """Remove a lead's personal data everywhere (GDPR erasure), keep it counted, log it.

    Country, industry, company size, source, stage and the transition log stay: they are
    what the funnel counts and say nothing about the person on their own. Erasing an erased
    lead changes nothing and returns the first erasure.
    """
    if not is_manager(actor):
        raise PermissionDenied("Only managers erase a lead's personal data.")
    with transaction.atomic():
        lead = Lead.objects.select_for_update(of=("self",)).get(pk=lead_id)
        existing = Erasure.objects.filter(lead=lead).first()
        if existing is not None:
            return existing
        for field, value in ERASED_VALUES.items():
            setattr(lead, field, value)
        # The check constraint wants an identity: a placeholder that names no one.
        lead.external_id = f"erased-{lead.pk}"
        lead.do_not_email = True
        lead.save()
        erasure = Erasure.objects.create(lead=lead, requested_by=actor, reason=reason[:255])
        lead_erased.send(sender=Lead, lead_id=lead.pk)
    return erasure
