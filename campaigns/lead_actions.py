"""The leads list's CSV export and bulk actions (assign, add to a campaign, move).

They live here because they reach every layer: the list's query (leads), the transition
and assignment services (funnel) and campaign membership (campaigns). Each acts on the
leads the list shows for the same filters, and each selected lead is done or refused with
its own reason, as POST /api/leads/bulk-transitions/ answers.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import QueryDict, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from funnel.assignment import lead_reassign
from funnel.errors import TransitionError
from funnel.queue import leads_decide
from leads.lead_list import lead_query
from leads.models import Lead
from leads.roles import MANAGER, MARKETER, has_role, is_manager, roles_of
from leads.views import lead_list_context

from .imports.report import csv_lines
from .models import Campaign, CampaignMembership
from .services import membership_touch

EXPORT_COLUMNS = (
    ("id", lambda lead: lead.pk),
    ("first_name", lambda lead: lead.first_name),
    ("last_name", lambda lead: lead.last_name),
    ("email", lambda lead: lead.email),
    ("external_id", lambda lead: lead.external_id),
    ("company", lambda lead: lead.company),
    ("title", lambda lead: lead.title),
    ("country", lambda lead: lead.country),
    ("stage", lambda lead: lead.stage),
    ("owner", lambda lead: lead.owner.get_username() if lead.owner_id else ""),
    ("source", lambda lead: lead.source),
    ("score", lambda lead: lead.score),
    ("created_at", lambda lead: lead.created_at.isoformat()),
)


def _csv_rows(leads):
    """The header, then a row per lead, every cell escaped (campaigns.imports.report)."""
    yield [name for name, _ in EXPORT_COLUMNS]
    for lead in leads.iterator(chunk_size=2000):
        yield [value(lead) for _, value in EXPORT_COLUMNS]


@login_required
def lead_export(request):
    """GET /leads/export/?<the list's filters and sort>: those leads as CSV, every page."""
    if not roles_of(request.user):
        raise PermissionDenied("Your account has no Handoff role.")
    found = lead_query(request.GET, request=request)
    if found.errors:
        context = lead_list_context(request)
        return render(request, "leads/lead_list.html", context, status=400)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response = StreamingHttpResponse(
        csv_lines(_csv_rows(found.leads)), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="leads-{stamp}.csv"'
    return response


def _selected(request) -> list[int]:
    ids = []
    for raw in request.POST.getlist("lead"):
        try:
            ids.append(int(raw))
        except ValueError:
            continue
    return list(dict.fromkeys(ids))


def _refused(lead_id: int, names: dict, message: str) -> str:
    return f"{names.get(lead_id, f'Lead {lead_id}')}: {message}"


def _assign(request, ids, names) -> tuple[int, list[str]]:
    if not is_manager(request.user):
        raise PermissionDenied("Only managers assign leads.")
    owner = request.POST.get("owner") or None
    done, refused = 0, []
    for lead_id in ids:
        try:
            lead_reassign(lead_id=lead_id, actor=request.user, owner=owner)
        except TransitionError as exc:
            refused.append(_refused(lead_id, names, exc.message))
        else:
            done += 1
    return done, refused


def _add_to_campaign(request, ids, names) -> tuple[int, list[str]]:
    if not has_role(request.user, MARKETER, MANAGER):
        raise PermissionDenied("Only marketers and managers add leads to campaigns.")
    campaign = Campaign.objects.filter(slug=request.POST.get("campaign", "")).first()
    if campaign is None:
        raise _BadRequest("Choose a campaign to add the leads to.")
    members = set(
        CampaignMembership.objects.filter(campaign=campaign, lead_id__in=ids).values_list(
            "lead_id", flat=True
        )
    )
    leads = Lead.objects.in_bulk(ids)
    done, refused = 0, []
    for lead_id in ids:
        lead = leads.get(lead_id)
        if lead is None:
            refused.append(_refused(lead_id, names, "No such lead."))
        elif lead_id in members:
            refused.append(_refused(lead_id, names, f"already in {campaign.name}."))
        else:
            membership_touch(lead=lead, campaign=campaign, how=CampaignMembership.How.MANUAL)
            done += 1
    return done, refused


def _move(request, ids, names) -> tuple[int, list[str]]:
    to = request.POST.get("to", "")
    if not to:
        raise _BadRequest("Choose the stage to move the leads to.")
    outcome = leads_decide(
        lead_ids=ids,
        to=to,
        actor=request.user,
        reason=request.POST.get("reason") or None,
        note=request.POST.get("note", ""),
    )
    return len(outcome.done), [
        _refused(row["lead"], names, row["detail"]) for row in outcome.refused
    ]


class _BadRequest(Exception):
    pass


ACTIONS = {
    "assign": (_assign, "Assigned"),
    "campaign": (_add_to_campaign, "Added to the campaign"),
    "move": (_move, "Moved"),
}


@login_required
@require_POST
def lead_bulk(request):
    """POST /leads/bulk/: one action on the selected leads; each is done or refused with why."""
    if not roles_of(request.user):
        raise PermissionDenied("Your account has no Handoff role.")
    back = QueryDict(request.POST.get("back", ""))
    action = ACTIONS.get(request.POST.get("action", ""))
    ids = _selected(request)
    problem = ""
    if action is None:
        problem = "Choose Assign, Add to campaign or Move."
    elif not ids:
        problem = "Select at least one lead first."
    elif len(ids) > settings.HANDOFF_BULK_MAX:
        problem = f"At most {settings.HANDOFF_BULK_MAX} leads at once."
    if not problem:
        names = {lead.pk: lead.display_name for lead in Lead.objects.filter(pk__in=ids)}
        handler, label = action
        try:
            done, refused = handler(request, ids, names)
        except _BadRequest as exc:
            problem = str(exc)
        except TransitionError as exc:  # the whole request (too many leads, a bad stage)
            problem = exc.message
    if problem:
        messages.error(request, problem)
        return render(request, "leads/lead_list.html", lead_list_context(request, back), status=400)
    if done:
        messages.success(request, f"{label}: {done} lead{'s' if done != 1 else ''}.")
    for message in refused:
        messages.error(request, f"Refused: {message}")
    query = back.urlencode()
    response = redirect("lead-list")
    if query:
        response["Location"] += f"?{query}"
    return response
