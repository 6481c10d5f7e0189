"""Reads of leads, and the access rules that say who may see or act on one."""

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404

from .models import Lead
from .roles import MARKETER, SALES_REP, has_role, is_manager, roles_of
from .stages import BUCKETS, Stage


def can_act_on(user, lead: Lead) -> bool:
    """Managers act on every lead; a sales rep on their own and unassigned ones only."""
    if is_manager(user):
        return True
    if has_role(user, SALES_REP) and lead.owner_id not in (None, user.pk):
        return False
    return bool(roles_of(user))


def ownership_refusal(user, lead: Lead) -> str:
    owner = lead.owner.get_username() if lead.owner_id else "nobody"
    return (
        f"Lead {lead.pk} belongs to {owner}; "
        "a sales rep acts only on their own and unassigned leads."
    )


# The stages marketing still works: a marketer edits leads in these; the rest are sales's.
MARKETING_STAGES = (Stage.SUSPECT, Stage.MQL, Stage.NURTURE)


def can_edit(user, lead: Lead) -> bool:
    """A lead's fields, one rule for the lead page and the API: managers edit every lead; a
    sales rep their own leads and the queue's unassigned MQLs (a suspect or nurtured lead
    nobody owns is marketing's); a marketer the leads in marketing's stages."""
    if is_manager(user):
        return True
    if not can_act_on(user, lead):
        return False
    held = roles_of(user)
    if lead.owner_id is None and held and held <= {SALES_REP}:
        return lead.stage == Stage.MQL
    if SALES_REP in held and lead.owner_id in (None, user.pk):
        return True
    return MARKETER in held and lead.stage in MARKETING_STAGES


def edit_refusal(user, lead: Lead) -> str:
    """Why `can_edit` refused."""
    held = roles_of(user)
    if lead.owner_id is not None and not can_act_on(user, lead):
        return ownership_refusal(user, lead)
    if lead.owner_id is None and held and held <= {SALES_REP}:
        return (
            f"Lead {lead.pk} is an unassigned {lead.stage}: a sales rep edits their own leads "
            "and the unassigned MQLs of the queue."
        )
    if MARKETER in held:
        return (
            f"Lead {lead.pk} is in {lead.stage}: marketers edit leads in "
            f"{', '.join(MARKETING_STAGES)}; sales edits the rest."
        )
    return "You may not edit this lead."


def lead_for_user(user, lead_id, *, write: bool = False, lock: bool = False) -> Lead:
    """The lead, or Http404 when it does not exist, or PermissionDenied when the user may not.

    Every signed-in role reads every lead; writing follows `can_act_on`.
    """
    try:
        lead_pk = int(lead_id)
    except (TypeError, ValueError):
        raise Http404("No such lead.") from None
    queryset = Lead.objects.select_related("owner")
    if lock:
        queryset = queryset.select_for_update(of=("self",))
    lead = queryset.filter(pk=lead_pk).first()
    if lead is None:
        raise Http404("No such lead.")
    if not roles_of(user):
        raise PermissionDenied("Your account has no Handoff role.")
    if write and not can_act_on(user, lead):
        raise PermissionDenied(ownership_refusal(user, lead))
    return lead


def lead_search(queryset: QuerySet[Lead], text: str) -> QuerySet[Lead]:
    text = (text or "").strip()
    if not text:
        return queryset
    condition = Q()
    for word in text.split()[:5]:
        condition &= (
            Q(email__icontains=word)
            | Q(external_id__iexact=word)
            | Q(first_name__icontains=word)
            | Q(last_name__icontains=word)
            | Q(company__icontains=word)
        )
    return queryset.filter(condition)


def leads_by_owner(queryset: QuerySet[Lead], owner: str, user) -> QuerySet[Lead]:
    """`me`, `none` or a username, as the API and the lead list take it."""
    owner = (owner or "").strip()
    if not owner:
        return queryset
    if owner == "me":
        return queryset.filter(owner=user)
    if owner == "none":
        return queryset.filter(owner__isnull=True)
    return queryset.filter(owner__username=owner)


def leads_in_bucket(queryset: QuerySet[Lead], bucket: str) -> QuerySet[Lead]:
    return queryset.filter(stage__in=BUCKETS[bucket])


def lead_owner_candidates():
    """Users a lead may be assigned to: active sales reps and managers."""
    return (
        get_user_model()
        .objects.filter(is_active=True, groups__name__in=[SALES_REP, "manager"])
        .distinct()
        .order_by("username")
    )


def lead_prediction(lead: Lead):
    """The lead's predictive score (`LeadPrediction`), or None before a model scored it.
    Cached on the instance, so a page and its API read it once."""
    from .models import LeadPrediction

    try:
        return lead.prediction
    except LeadPrediction.DoesNotExist:
        return None
