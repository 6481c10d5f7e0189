import base64

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.text import slugify
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from leads.roles import MANAGER, MARKETER, has_role, roles_of
from leads.selectors import lead_for_user

from . import mailing, selectors, services
from .forms import AssetForm, ProgrammeForm, StepForm
from .models import Audience, ConsentRecord, ContentAsset, Message, Programme, Step


def _require_marketing(user) -> None:
    if not has_role(user, MARKETER, MANAGER):
        raise PermissionDenied("Content and nurture programmes are for marketers and managers.")


# --- content library ----------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def content_list(request):
    _require_marketing(request.user)
    form = AssetForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            asset = services.asset_create(created_by=request.user, **form.cleaned_data)
            messages.success(request, f"Added {asset.title}.")
            return redirect("nurture-content")
        messages.error(request, "Please correct the fields below.")
    return render(
        request,
        "nurture/content_list.html",
        {"assets": ContentAsset.objects.all(), "form": form},
        status=400 if form.errors else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def content_edit(request, pk):
    _require_marketing(request.user)
    asset = get_object_or_404(ContentAsset, pk=pk)
    form = AssetForm(request.POST or None, instance=asset)
    if request.method == "POST":
        if form.is_valid():
            services.asset_update(asset=asset, **form.cleaned_data)
            messages.success(request, f"Saved {asset.title}.")
            return redirect("nurture-content")
        messages.error(request, "Please correct the fields below.")
    return render(
        request,
        "nurture/content_edit.html",
        {"asset": asset, "form": form},
        status=400 if form.errors else 200,
    )


# --- programmes ---------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def programme_list(request):
    _require_marketing(request.user)
    form = ProgrammeForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            programme = services.programme_create(created_by=request.user, **form.cleaned_data)
            messages.success(request, f"Created {programme.name}. Now add its steps.")
            return redirect("nurture-programme", pk=programme.pk)
        messages.error(request, "Please correct the fields below.")
    programmes = list(Programme.objects.prefetch_related("steps"))
    stats = selectors.programme_stats(programmes)
    return render(
        request,
        "nurture/programme_list.html",
        {"rows": [(p, stats[p.pk]) for p in programmes], "form": form},
        status=400 if form.errors else 200,
    )


def _programme_page(request, programme, *, form=None, step_form=None, status=200):
    return render(
        request,
        "nurture/programme_detail.html",
        {
            "programme": programme,
            "form": form or ProgrammeForm(instance=programme),
            "step_form": step_form or StepForm(),
            "steps": selectors.step_stats(programme),
            "stats": selectors.programme_stats([programme])[programme.pk],
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def programme_detail(request, pk):
    _require_marketing(request.user)
    programme = get_object_or_404(Programme, pk=pk)
    if request.method == "GET":
        return _programme_page(request, programme)
    form = ProgrammeForm(request.POST, instance=programme)
    if not form.is_valid():
        messages.error(request, "Please correct the fields below.")
        return _programme_page(request, programme, form=form, status=400)
    services.programme_update(programme=programme, **form.cleaned_data)
    messages.success(request, f"Saved {programme.name}.")
    return redirect("nurture-programme", pk=programme.pk)


@login_required
@require_POST
def step_add(request, pk):
    _require_marketing(request.user)
    programme = get_object_or_404(Programme, pk=pk)
    form = StepForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The step needs a few more details.")
        return _programme_page(request, programme, step_form=form, status=400)
    step = services.step_add(programme=programme, **form.cleaned_data)
    messages.success(request, f"Added step {step.position + 1}: {step.describe()}.")
    return redirect("nurture-programme", pk=programme.pk)


@login_required
@require_POST
def step_remove(request, pk, step_pk):
    _require_marketing(request.user)
    step = get_object_or_404(Step, pk=step_pk, programme_id=pk)
    try:
        services.step_remove(step=step)
    except services.StepInUse as exc:
        messages.error(request, str(exc))
        return _programme_page(request, step.programme, status=409)
    messages.success(request, "Removed the step.")
    return redirect("nurture-programme", pk=pk)


# --- audiences ----------------------------------------------------------------------------


@login_required
@require_GET
def audience_list(request):
    _require_marketing(request.user)
    audiences = list(Audience.objects.all())
    counts = selectors.audience_counts(audiences)
    return render(
        request,
        "nurture/audience_list.html",
        {"rows": [(audience, counts[audience.pk]) for audience in audiences]},
    )


@login_required
@require_GET
def audience_export(request, pk):
    _require_marketing(request.user)
    audience = get_object_or_404(Audience, pk=pk)
    body, counts = selectors.audience_export(audience)
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    name = slugify(audience.name) or f"audience-{audience.pk}"
    response["Content-Disposition"] = f'attachment; filename="{name}-sha256.csv"'
    response["X-Audience-Members"] = str(counts.get("members", 0))
    response["X-Audience-Exported"] = str(counts.get("exported", 0))
    response["X-Audience-Left-Out"] = str(counts.get("left_out", 0))
    return response


# --- a lead's nurture timeline ------------------------------------------------------------


@login_required
@require_GET
def lead_timeline(request, lead_pk):
    if not roles_of(request.user):
        raise PermissionDenied("Your account has no Handoff role.")
    lead = lead_for_user(request.user, lead_pk)
    return render(
        request,
        "nurture/lead_timeline.html",
        {"lead": lead, "entries": selectors.lead_timeline(lead)},
    )


# --- public: tracking and consent (no login; signed tokens) -------------------------------

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


def _message_id(token: str, salt: str) -> int:
    value = mailing.read_token(token, salt)
    if not isinstance(value, int):
        raise Http404("No such message.")
    return value


@never_cache
@require_GET
def track_open(request, token):
    message_id = _message_id(token, mailing.OPEN_SALT)
    if services.tracking_record(message_id=message_id, kind="open") is None:
        raise Http404("No such message.")
    return HttpResponse(PIXEL, content_type="image/gif")


@never_cache
@require_GET
def track_click(request, token):
    value = mailing.read_token(token, mailing.CLICK_SALT)
    if not (isinstance(value, list) and len(value) == 2 and isinstance(value[0], int)):
        raise Http404("No such link.")
    message_id, url = value
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        raise Http404("No such link.")
    if services.tracking_record(message_id=message_id, kind="click", url=url) is None:
        raise Http404("No such link.")
    return HttpResponseRedirect(url)


# RFC 8058: the mail client POSTs "List-Unsubscribe=One-Click" with no cookies and no
# CSRF token, so this one view is exempt; the signed token is the authorisation.
@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token):
    message_id = _message_id(token, mailing.UNSUBSCRIBE_SALT)
    message = Message.objects.filter(pk=message_id).select_related("lead").first()
    if message is None:
        raise Http404("No such message.")
    if request.method == "GET":
        # A GET only shows the confirmation: link scanners must not unsubscribe anyone.
        return render(request, "nurture/unsubscribe.html", {"message": message, "done": False})
    one_click = request.POST.get("List-Unsubscribe") == "One-Click"
    how = ConsentRecord.How.ONE_CLICK if one_click else ConsentRecord.How.LINK
    services.consent_unsubscribe(message_id=message.pk, how=how)
    if one_click:
        return HttpResponse("Unsubscribed.", content_type="text/plain")
    return render(request, "nurture/unsubscribe.html", {"message": message, "done": True})
