from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from leads.roles import roles_of
from leads.selectors import lead_for_user
from leads.services import lead_erase

from . import services
from .activity_views import lead_work_context
from .errors import TransitionError
from .forms import TransitionForm
from .lifecycle import rule_for
from .pipeline import lead_deal
from .selectors import actions_for, lead_history
from .workspace_selectors import lead_workspace_context


def _require_role(user) -> None:
    if not roles_of(user):
        raise PermissionDenied("Your account has no Handoff role.")


def _lead_page(
    request,
    lead,
    *,
    bound: TransitionForm | None = None,
    status: int = 200,
    work: dict | None = None,
):
    forms = []
    for rule in actions_for(request.user, lead):
        if bound is not None and bound.rule == rule:
            forms.append(bound)
        else:
            forms.append(TransitionForm(rule=rule))
    return render(
        request,
        "funnel/lead_detail.html",
        {
            "lead": lead,
            "history": lead_history(lead),
            "action_forms": forms,
            **lead_workspace_context(lead),
            # Activities, tasks, owner and edits (funnel.activity_views).
            **lead_work_context(request.user, lead, **(work or {})),
            "deal": lead_deal(lead),
        },
        status=status,
    )


def lead_page_response(request, lead, *, status: int = 200, work: dict | None = None):
    """The lead page with bound forms of the work on it: what a refused post shows again."""
    return _lead_page(request, lead, status=status, work=work)


@login_required
def lead_detail(request, pk):
    _require_role(request.user)
    return _lead_page(request, lead_for_user(request.user, pk))


@login_required
@require_POST
def lead_erase_page(request, pk):
    """A manager erases the lead's personal data (GDPR), from its page."""
    _require_role(request.user)
    lead = lead_for_user(request.user, pk)
    if request.POST.get("confirm") != "erase":
        messages.error(request, "Tick the box to confirm the erasure; nothing was changed.")
        return redirect("lead-detail", pk=lead.pk)
    lead_erase(lead_id=lead.pk, actor=request.user, reason=request.POST.get("reason", ""))
    messages.success(request, f"Lead {lead.pk}'s personal data was erased; it stays counted.")
    return redirect("lead-detail", pk=lead.pk)


@login_required
@require_POST
def lead_move(request, pk):
    _require_role(request.user)
    lead = lead_for_user(request.user, pk)
    # The rule the user meant is the one for the stage they saw; the service refuses it
    # with a clear message if the lead has moved since.
    rule = rule_for(request.POST.get("from_stage", ""), request.POST.get("to", ""))
    if rule is None:
        messages.error(request, "That action is not possible for this lead now.")
        return _lead_page(request, lead, status=409)
    form = TransitionForm(request.POST, rule=rule)
    if not form.is_valid():
        messages.error(request, f"{rule.label}: please correct the fields below.")
        return _lead_page(request, lead, bound=form, status=400)
    try:
        services.transition_lead(
            lead_id=lead.pk,
            to=form.cleaned_data["to"],
            actor=request.user,
            expected_from=form.cleaned_data["from_stage"],
            reason=form.cleaned_data.get("reason"),
            note=form.cleaned_data.get("note", ""),
            fields=form.verb_fields,
        )
    except TransitionError as exc:
        lead.refresh_from_db()
        messages.error(request, exc.message)
        for field, errors in exc.errors.items():
            if field in form.fields:
                for error in errors:
                    form.add_error(field, error)
        return _lead_page(request, lead, bound=form if form.errors else None, status=exc.status)
    messages.success(request, f"{rule.label}: {lead.display_name} is now {rule.target.upper()}.")
    return redirect("lead-detail", pk=lead.pk)
