"""Pages of a rep's working day: activities, tasks, owner changes and field edits on the lead
page, and "My day". Thin: a form, a service, a redirect with a message (or the lead page again
with the bound form and the service's error)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from leads.roles import SALES_REP, has_role, is_manager, roles_of
from leads.selectors import can_act_on, can_edit, lead_for_user, lead_owner_candidates
from leads.services import DuplicateLead
from leads.stages import Stage

from . import activities, lead_edits
from .activity_forms import OUTCOMES, ActivityForm, LeadEditForm, TaskForm
from .errors import TransitionError
from .my_day import my_day


def _require_role(user) -> None:
    if not roles_of(user):
        raise PermissionDenied("Your account has no Handoff role.")


def lead_work_context(user, lead, **bound) -> dict:
    """What the lead page shows of the work on a lead, and the forms the user may use."""
    act = can_act_on(user, lead)
    manager = is_manager(user)
    return {
        "now": timezone.now(),
        "timeline": activities.lead_timeline(lead),
        "open_tasks": list(activities.open_tasks_of_lead(lead)),
        "can_log": act,
        "activity_form": bound.get("activity_form") or (ActivityForm() if act else None),
        "task_form": bound.get("task_form") or (TaskForm(manager=manager) if act else None),
        "outcomes": sorted({o for group in OUTCOMES.values() for o in group}),
        "can_edit": can_edit(user, lead),
        "edit_form": bound.get("edit_form") or LeadEditForm.for_lead(lead),
        "edit_open": "edit_form" in bound,
        "owner_choices": list(lead_owner_candidates()) if manager else [],
        "can_hand_back": lead.owner_id is not None and (lead.owner_id == user.pk or manager),
        "colleagues_lead": (
            lead.owner_id is not None
            and lead.owner_id != user.pk
            and has_role(user, SALES_REP)
            and not manager
        ),
    }


def _lead_page(request, lead, *, status: int, **bound):
    from .views import lead_page_response

    return lead_page_response(request, lead, status=status, work=bound)


def _refused(request, lead, exc: TransitionError, **bound):
    if exc.status == 403:
        raise PermissionDenied(exc.message)
    messages.error(request, exc.message)
    lead.refresh_from_db()
    return _lead_page(request, lead, status=exc.status, **bound)


@login_required
@require_POST
def activity_log(request, pk):
    _require_role(request.user)
    lead = lead_for_user(request.user, pk)
    form = ActivityForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Log an activity: please correct the fields below.")
        return _lead_page(request, lead, status=400, activity_form=form)
    data = form.cleaned_data
    try:
        row = activities.activity_log(
            lead_id=lead.pk,
            actor=request.user,
            kind=data["kind"],
            outcome=data["outcome"],
            at=data["at"],
            duration_minutes=data["duration_minutes"],
            note=data["note"],
        )
        task = None
        if data["follow_up"]:
            task = activities.task_create(
                lead_id=lead.pk,
                actor=request.user,
                title=data["follow_up"],
                due_at=data["follow_up_due"],
            )
    except TransitionError as exc:
        for field, errors in exc.errors.items():
            if field in form.fields:
                for error in errors:
                    form.add_error(field, error)
        return _refused(request, lead, exc, activity_form=form)
    text = f"Logged the {row.get_kind_display().lower()} on {lead.display_name}."
    if task is not None:
        text += f" Follow-up “{task.title}” due {task.due_at:%Y-%m-%d %H:%M}."
    messages.success(request, text)
    return redirect("lead-detail", pk=lead.pk)


@login_required
@require_POST
def task_add(request, pk):
    _require_role(request.user)
    lead = lead_for_user(request.user, pk)
    form = TaskForm(request.POST, manager=is_manager(request.user))
    if not form.is_valid():
        messages.error(request, "Add a task: please correct the fields below.")
        return _lead_page(request, lead, status=400, task_form=form)
    try:
        task = activities.task_create(
            lead_id=lead.pk,
            actor=request.user,
            title=form.cleaned_data["title"],
            due_at=form.cleaned_data["due_at"],
            owner=form.cleaned_data.get("owner") or None,
        )
    except TransitionError as exc:
        return _refused(request, lead, exc, task_form=form)
    who = "you" if task.owner_id == request.user.pk else task.owner.get_username()
    messages.success(request, f"Task “{task.title}” added for {who}.")
    return redirect("lead-detail", pk=lead.pk)


def _next(request, default: str):
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect(default)


@login_required
@require_POST
def task_done(request, pk):
    _require_role(request.user)
    try:
        task = activities.task_update(
            task_id=pk, actor=request.user, done=request.POST.get("done", "1") != "0"
        )
    except TransitionError as exc:
        if exc.status == 403:
            raise PermissionDenied(exc.message) from None
        if exc.status == 404:
            raise Http404(exc.message) from None
        messages.error(request, exc.message)
        return _next(request, "my-day")
    verb = "Done" if task.done else "Reopened"
    messages.success(request, f"{verb}: {task.title} ({task.lead.display_name}).")
    return _next(request, "my-day")


@login_required
@require_POST
def owner_change(request, pk):
    _require_role(request.user)
    lead = lead_for_user(request.user, pk)
    if not is_manager(request.user):
        raise PermissionDenied("Only managers reassign leads.")
    owner = request.POST.get("owner") or None
    try:
        lead = lead_edits.lead_owner_change(lead_id=lead.pk, actor=request.user, owner=owner)
    except TransitionError as exc:
        return _refused(request, lead, exc)
    who = lead.owner.get_username() if lead.owner_id else "nobody (back in the queue)"
    messages.success(request, f"{lead.display_name} now belongs to {who}.")
    return redirect("lead-detail", pk=lead.pk)


@login_required
@require_POST
def hand_back(request, pk):
    _require_role(request.user)
    lead = lead_for_user(request.user, pk)
    try:
        lead = lead_edits.lead_hand_back(lead_id=lead.pk, actor=request.user)
    except TransitionError as exc:
        return _refused(request, lead, exc)
    if lead.stage == Stage.MQL:
        messages.success(request, f"{lead.display_name} is back in the queue, unassigned.")
    else:
        messages.success(request, f"{lead.display_name} is unassigned now; any rep may take it.")
    return redirect("lead-detail", pk=lead.pk)


@login_required
@require_POST
def lead_edit(request, pk):
    _require_role(request.user)
    lead = lead_for_user(request.user, pk)
    form = LeadEditForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Edit details: please correct the fields below.")
        return _lead_page(request, lead, status=400, edit_form=form)
    changes = form.changes(lead)
    if not changes:
        messages.info(request, "Nothing changed.")
        return redirect("lead-detail", pk=lead.pk)
    try:
        lead_edits.lead_edit(lead_id=lead.pk, actor=request.user, changes=changes)
    except TransitionError as exc:
        return _refused(request, lead, exc, edit_form=form)
    except DuplicateLead as exc:
        form.add_error(exc.field if exc.field in form.fields else None, str(exc))
        messages.error(request, str(exc))
        return _lead_page(request, lead, status=409, edit_form=form)
    except ValidationError as exc:
        form.add_error(None, exc.messages[0])
        messages.error(request, exc.messages[0])
        return _lead_page(request, lead, status=400, edit_form=form)
    names = ", ".join(form.fields[name].label.lower() for name in changes)
    messages.success(request, f"Saved {lead.display_name}: {names}.")
    return redirect("lead-detail", pk=lead.pk)


@login_required
def my_day_page(request):
    if not activities.works_a_day(request.user):
        raise PermissionDenied("My day is for sales reps and managers.")
    return render(request, "funnel/my_day.html", my_day(request.user))
