"""Pages of the sales workspace: the MQL queue, the pipeline, and the managers' settings.

Every page works as plain forms; with htmx a queue decision replaces its row in place.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from leads.roles import MANAGER, SALES_REP, has_role, is_manager
from leads.selectors import lead_for_user, lead_owner_candidates
from leads.stages import Stage

from . import assignment, pipeline, queue
from .errors import AlreadyTaken, TransitionError
from .lifecycle import BANT, rules_from
from .models import (
    AcceptanceCriterion,
    Opportunity,
    PipelineStage,
    TerritoryRule,
    WorkspaceSettings,
)
from .selectors import reasons_for
from .services import transition_lead
from .workspace_forms import (
    CriterionForm,
    PipelineStageFormSet,
    TerritoryFormSet,
    WorkspaceSettingsForm,
)

VERB_FIELDS = ("amount", "expected_close", "pipeline_stage", "currency", *BANT)
DONE_LABELS = {
    "accept": "Accepted",
    "reject": "Rejected",
    "junk": "Junked",
    "qualify": "Qualified",
    "disqualify": "Disqualified",
    "convert": "Converted",
    "win": "Won",
    "lose": "Lost",
}


def _require_sales(user) -> None:
    if not has_role(user, SALES_REP, MANAGER):
        raise PermissionDenied("This page is for sales reps and managers.")


def _require_manager(user) -> None:
    if not is_manager(user):
        raise PermissionDenied("Only managers change this.")


def _is_htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true"


# --- the MQL queue ------------------------------------------------------------------------


def _queue_context(request) -> dict:
    filters = queue.QueueFilters.from_query(request.GET, user=request.user)
    view = queue.queue_view(request.user, filters)
    paginator = Paginator(view.leads, settings.HANDOFF_QUEUE_PAGE_SIZE)
    paginator.count = view.total  # counted in the one aggregate query already
    page = paginator.get_page(request.GET.get("page"))
    manager = is_manager(request.user)
    counts = view.counts
    return {
        "page": page,
        "rows": queue.queue_rows(list(page.object_list)),
        "filters": filters,
        "owner_tabs": [
            (value, label, count, filters.query(owner=value, page=""))
            for value, label, count in (
                ("me", "Mine", counts["owner_me"]),
                ("none", "Unassigned", counts["owner_none"]),
                ("all", "Everyone's" if manager else "Mine and unassigned", counts["all"]),
            )
        ],
        "age_choices": [(k, label, counts[f"age_{k}"]) for k, label in queue.AGE_CHOICES.items()],
        "sla_choices": [(k, label, counts[f"sla_{k}"]) for k, label in queue.SLA_CHOICES.items()],
        "campaigns": queue.queue_campaigns(),
        "sources": queue.queue_sources(),
        "reject_reasons": reasons_for("reject"),
        "junk_reasons": reasons_for("junk"),
        "owners": list(lead_owner_candidates()) if manager else [],
        "is_manager": manager,
        "is_rep": has_role(request.user, SALES_REP),
        "workspace": WorkspaceSettings.load(),
        "query": filters.query(),
        "filters_oldest": filters.query(sort="", page=""),
        "filters_probability": filters.query(sort="probability", page=""),
        "sort": filters.sort,
    }


def _queue_page(request, *, status: int = 200):
    return render(request, "funnel/queue.html", _queue_context(request), status=status)


@login_required
def queue_page(request):
    _require_sales(request.user)
    return _queue_page(request)


def _row_response(request, lead_id: int, *, done: str = "", error: str = ""):
    """The queue row after a decision, for htmx to swap in place."""
    context = {
        "row": queue.queue_row(lead_id),
        "done": done,
        "row_error": error,
        "reject_reasons": reasons_for("reject"),
        "junk_reasons": reasons_for("junk"),
        "owners": list(lead_owner_candidates()) if is_manager(request.user) else [],
        "is_manager": is_manager(request.user),
        "is_rep": has_role(request.user, SALES_REP),
        "lead_id": lead_id,
    }
    return render(request, "funnel/queue.html#row", context)


def _rule_for_verb(from_stage: str, verb: str):
    for rule in rules_from(from_stage):
        if rule.verb == verb:
            return rule
    return None


def _back(request, lead):
    where = request.POST.get("back", "")
    if where == "pipeline":
        return redirect("pipeline")
    if where == "lead":
        return redirect("lead-detail", pk=lead.pk)
    return _queue_redirect(request)


def _queue_redirect(request):
    """Back to the queue with the filters the form was sent from."""
    response = redirect("queue")
    query = QueryDict(request.POST.get("query", "")).urlencode()
    if query:
        response["Location"] += f"?{query}"
    return response


def _check_not_taken(request, lead, from_stage: str) -> None:
    """The page showed the lead unassigned, and a colleague has taken it since: a conflict
    (409, saying who), not a plain refusal."""
    seen_owner = request.POST.get("seen_owner")
    if (
        seen_owner == ""
        and lead.stage == from_stage
        and lead.owner_id not in (None, request.user.pk)
        and not is_manager(request.user)
    ):
        raise AlreadyTaken(
            f"{lead.owner.get_username()} took {lead.display_name} after you opened this page; "
            "it is theirs now.",
            lead_id=lead.pk,
        )


@login_required
@require_POST
def lead_decide(request, pk):
    """One decision from the queue or the pipeline: a verb on the stage the user saw."""
    _require_sales(request.user)
    # Read access only: the service answers a lead that moved on with a 409 naming who moved
    # it, before it answers a colleague's lead with a 403.
    lead = lead_for_user(request.user, pk)
    from_stage = request.POST.get("from_stage") or Stage.MQL
    verb = request.POST.get("verb", "")
    rule = _rule_for_verb(from_stage, verb)
    htmx = _is_htmx(request)
    if rule is None:
        message = f"{verb or 'That'} is not a decision for a lead in {from_stage}."
        if htmx:
            return _row_response(request, lead.pk, error=message)
        messages.error(request, message)
        return _back(request, lead)
    try:
        _check_not_taken(request, lead, from_stage)
        transition_lead(
            lead_id=lead.pk,
            to=rule.target,
            actor=request.user,
            expected_from=from_stage,
            reason=request.POST.get("reason") or None,
            note=request.POST.get("note", ""),
            fields={name: request.POST[name] for name in VERB_FIELDS if request.POST.get(name)},
        )
    except TransitionError as exc:
        if htmx:
            return _row_response(request, lead.pk, error=exc.message)
        messages.error(request, f"{lead.display_name}: {exc.message}")
        if request.POST.get("back") == "pipeline":
            return redirect("pipeline")  # the board says why, at its own address
        return _queue_page(request, status=exc.status)
    label = DONE_LABELS.get(rule.verb, rule.label)
    done = f"{label}: {lead.display_name} is now {rule.target.upper()}."
    if htmx:
        return _row_response(request, lead.pk, done=done)
    messages.success(request, done)
    return _back(request, lead)


@login_required
@require_POST
def queue_bulk(request):
    """Accept or reject many MQLs at once; each refusal is reported, the rest are done."""
    _require_sales(request.user)
    verb = request.POST.get("verb", "")
    rule = _rule_for_verb(Stage.MQL, verb)
    if rule is None or verb not in ("accept", "reject"):
        messages.error(request, "Choose Accept selected or Reject selected.")
        return _queue_page(request, status=400)
    ids = []
    for raw in request.POST.getlist("lead"):
        try:
            ids.append(int(raw))
        except ValueError:
            continue
    if not ids:
        messages.error(request, "Select at least one lead first.")
        return _queue_page(request, status=400)
    try:
        outcome = queue.leads_decide(
            lead_ids=ids,
            to=rule.target,
            actor=request.user,
            expected_from=Stage.MQL,
            reason=request.POST.get("bulk_reason") or None,
            note=request.POST.get("bulk_note", ""),
        )
    except TransitionError as exc:
        messages.error(request, exc.message)
        return _queue_page(request, status=exc.status)
    if outcome.done:
        count = len(outcome.done)
        messages.success(request, f"{DONE_LABELS[verb]} {count} lead{'s' if count != 1 else ''}.")
    for refusal in outcome.refused:
        messages.error(request, f"Lead {refusal['lead']} not {verb}ed: {refusal['detail']}")
    return _queue_redirect(request)


@login_required
@require_POST
def lead_claim(request, pk):
    _require_sales(request.user)
    # A lead a colleague took first is a 409 from the service, naming them.
    lead = lead_for_user(request.user, pk)
    try:
        assignment.lead_claim(lead_id=lead.pk, actor=request.user)
    except TransitionError as exc:
        if _is_htmx(request):
            return _row_response(request, lead.pk, error=exc.message)
        messages.error(request, exc.message)
        return _queue_page(request, status=exc.status)
    if _is_htmx(request):
        return _row_response(request, lead.pk)
    messages.success(request, f"{lead.display_name} is yours now.")
    return _back(request, lead)


@login_required
@require_POST
def lead_reassign(request, pk):
    _require_manager(request.user)
    lead = lead_for_user(request.user, pk, write=True)
    owner = request.POST.get("owner") or None
    try:
        lead = assignment.lead_reassign(lead_id=lead.pk, actor=request.user, owner=owner)
    except TransitionError as exc:
        if _is_htmx(request):
            return _row_response(request, lead.pk, error=exc.message)
        messages.error(request, exc.message)
        return _queue_page(request, status=exc.status)
    who = lead.owner.get_username() if lead.owner_id else "nobody"
    if _is_htmx(request):
        return _row_response(request, lead.pk, done=f"Reassigned to {who}.")
    messages.success(request, f"{lead.display_name} now belongs to {who}.")
    return _back(request, lead)


# --- the pipeline ---------------------------------------------------------------------------


PIPELINE_CLOSE = {"won": ("win", Stage.CUSTOMER), "lost": ("lose", Stage.NURTURE)}


def _pipeline_context(request, *, error: str = "", done: str = "", open_deal=None) -> dict:
    today = timezone.localdate()
    columns = pipeline.pipeline_board(request.user)
    return {
        "columns": columns,
        "overdue": pipeline.mark_overdue(columns, today=today),
        "forecast": pipeline.forecast_by_month(columns, today=today),
        "stages": list(PipelineStage.objects.filter(is_active=True)),
        "lost_reasons": reasons_for("lose"),
        "board_error": error,
        "board_done": done,
        "open_deal": open_deal,
    }


def _pipeline_page(request, *, status: int = 200, error: str = "", open_deal=None):
    """The board; after a refusal, with the message on it and the deal's controls open."""
    context = _pipeline_context(request, error=error, open_deal=open_deal)
    if _is_htmx(request):
        return render(request, "funnel/pipeline.html#board", context, status=status)
    if error:
        messages.error(request, error)
    return render(request, "funnel/pipeline.html", context, status=status)


def _pipeline_done(request, done: str):
    if _is_htmx(request):
        return render(request, "funnel/pipeline.html#board", _pipeline_context(request, done=done))
    messages.success(request, done)
    return redirect("pipeline")


def _deal_id(request):
    try:
        return int(request.POST.get("deal", ""))
    except ValueError:
        return None


@login_required
def pipeline_page(request):
    """GET the board; POST a move, Won or Lost to it (the answer, refusals too, is this page)."""
    _require_sales(request.user)
    if request.method == "POST":
        deal_id = _deal_id(request)
        if deal_id is None:
            return _pipeline_page(request, status=400, error="Choose a deal to move.")
        action = request.POST.get("action", "move")
        if action in PIPELINE_CLOSE:
            return _deal_close(request, deal_id, action)
        return _deal_move(request, deal_id)
    return _pipeline_page(request)


def _deal_move(request, deal_id: int):
    try:
        deal = pipeline.opportunity_move(
            opportunity_id=deal_id,
            to_stage=request.POST.get("pipeline_stage", ""),
            actor=request.user,
            expected_stage=request.POST.get("from_pipeline_stage") or None,
        )
    except TransitionError as exc:
        return _pipeline_page(request, status=exc.status, error=exc.message, open_deal=deal_id)
    return _pipeline_done(request, f"{deal.lead.display_name} moved to {deal.pipeline_stage.name}.")


def _deal_close(request, deal_id: int, action: str):
    """Won or Lost through the transition service, which checks role and ownership."""
    verb, target = PIPELINE_CLOSE[action]
    deal = Opportunity.objects.select_related("lead").filter(pk=deal_id).first()
    if deal is None:
        return _pipeline_page(request, status=404, error="No such deal.")
    try:
        transition_lead(
            lead_id=deal.lead_id,
            to=target,
            actor=request.user,
            expected_from=Stage.OPPORTUNITY,
            reason=request.POST.get("reason") or None,
            note=request.POST.get("note", ""),
        )
    except TransitionError as exc:
        message = f"{deal.lead.display_name}: {exc.message}"
        return _pipeline_page(request, status=exc.status, error=message, open_deal=deal_id)
    return _pipeline_done(
        request, f"{DONE_LABELS[verb]}: {deal.lead.display_name} is now {target.upper()}."
    )


@login_required
@require_POST
def deal_move(request, pk):
    """The older move address: the same move; refusals answer with the board too."""
    _require_sales(request.user)
    return _deal_move(request, pk)


# --- managers' settings ---------------------------------------------------------------------


@login_required
def criteria_list(request):
    _require_sales(request.user)
    return render(
        request,
        "funnel/criteria_list.html",
        {"criteria": AcceptanceCriterion.objects.all(), "is_manager": is_manager(request.user)},
    )


@login_required
def criterion_edit(request, pk=None):
    _require_manager(request.user)
    criterion = get_object_or_404(AcceptanceCriterion, pk=pk) if pk else None
    if request.method == "POST":
        if criterion is not None and "delete" in request.POST:
            criterion.delete()
            messages.success(request, f"Deleted the criterion {criterion.name}.")
            return redirect("criteria")
        form = CriterionForm(request.POST, instance=criterion)
        if form.is_valid():
            saved = form.save()
            messages.success(request, f"Saved the criterion {saved.name}.")
            return redirect("criteria")
        status = 400
    else:
        form = CriterionForm(instance=criterion)
        status = 200
    return render(
        request,
        "funnel/criterion_form.html",
        {"form": form, "criterion": criterion},
        status=status,
    )


@login_required
def workspace_settings(request):
    _require_manager(request.user)
    workspace = WorkspaceSettings.load()
    territories = TerritoryRule.objects.prefetch_related("reps")
    status = 200
    if request.method == "POST":
        form = WorkspaceSettingsForm(request.POST, instance=workspace)
        formset = TerritoryFormSet(request.POST, queryset=territories, prefix="territory")
        if form.is_valid() and formset.is_valid():
            form.save()
            formset.save()
            messages.success(request, "Saved the queue settings.")
            return redirect("queue-settings")
        status = 400
    else:
        form = WorkspaceSettingsForm(instance=workspace)
        formset = TerritoryFormSet(queryset=territories, prefix="territory")
    return render(
        request,
        "funnel/queue_settings.html",
        {"form": form, "formset": formset},
        status=status,
    )


@login_required
def pipeline_stages(request):
    _require_manager(request.user)
    status = 200
    if request.method == "POST":
        formset = PipelineStageFormSet(request.POST, queryset=PipelineStage.objects.all())
        if formset.is_valid():
            formset.save()
            messages.success(request, "Saved the pipeline stages.")
            return redirect("pipeline-stages")
        status = 400
    else:
        formset = PipelineStageFormSet(queryset=PipelineStage.objects.all())
    return render(request, "funnel/pipeline_stages.html", {"formset": formset}, status=status)
