"""Marketing's pages (segments, campaigns, scoring rules) and the public landing pages."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models.deletion import ProtectedError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.text import slugify
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods, require_POST

from config.security import frameable

from . import services
from .capture import (
    CaptureForm,
    Refused,
    attribution_from,
    body_size_check,
    campaign_open_check,
    capture_submit,
    capture_validate,
    client_ip,
    rate_limit_check,
)
from .forms import MIN_ROWS, CampaignForm, ScoringRuleForm, SegmentForm
from .models import Campaign, CaptureSubmission, ScoringRule, Segment
from .predictive.models import PredictiveSettings
from .segments import ATTRIBUTE_PREFIX, FIELDS
from .selectors import campaign_list as campaigns_selected
from .selectors import (
    campaign_members_by_stage,
    campaign_recent_members,
    campaign_recent_submissions,
    can_edit_marketing,
    can_read_marketing,
)
from .selectors import segment_list as segments_selected
from .selectors import segment_preview as preview_of

MAX_ROWS = 21


def _require_read(user) -> None:
    if not can_read_marketing(user):
        raise PermissionDenied("Segments and campaigns are for marketers and managers.")


def _require_edit(user) -> None:
    if not can_edit_marketing(user):
        raise PermissionDenied("Only marketers and managers change segments and campaigns.")


# --- segments -----------------------------------------------------------------------------


def _segment_rows(request) -> int:
    try:
        rows = int(request.POST.get("rows", MIN_ROWS))
    except ValueError:
        rows = MIN_ROWS
    if request.POST.get("action") == "add_row":
        rows += 1
    return min(max(rows, MIN_ROWS), MAX_ROWS)


def _attribute_keys() -> list[str]:
    """Attribute names seen on recent leads, for the field list's suggestions."""
    from leads.models import Lead

    keys: set[str] = set()
    for attributes in Lead.objects.order_by("-id").values_list("attributes", flat=True)[:200]:
        if isinstance(attributes, dict):
            keys.update(str(key) for key in attributes)
    return sorted(f"{ATTRIBUTE_PREFIX}{key}" for key in keys)[:50]


def _preview(form: SegmentForm) -> dict:
    if form.is_valid():
        return {
            **preview_of(
                conditions=form.cleaned_data["conditions"], match=form.cleaned_data["match"]
            ),
            "errors": [],
        }
    return {"count": None, "sample": [], "errors": form.non_field_errors()}


def _segment_page(request, form: SegmentForm, segment: Segment | None, preview=None, status=200):
    return render(
        request,
        "campaigns/segment_form.html",
        {
            "form": form,
            "segment": segment,
            "preview": preview,
            "field_names": [*FIELDS, *_attribute_keys()],
            "rules": segment.scoring_rules.all() if segment else [],
        },
        status=status,
    )


@login_required
def segment_list(request):
    _require_read(request.user)
    return render(
        request,
        "campaigns/segment_list.html",
        {"segments": segments_selected(), "can_edit": can_edit_marketing(request.user)},
    )


@login_required
@require_http_methods(["GET", "POST"])
def segment_edit(request, slug=None):
    _require_read(request.user)
    segment = get_object_or_404(Segment, slug=slug) if slug else None
    if request.method == "GET":
        if segment is None:
            _require_edit(request.user)
            form = SegmentForm(initial={"match": "all"})
        else:
            initial, rows = SegmentForm.initial_for(segment)
            form = SegmentForm(initial=initial, rows=rows)
        preview = None
        if segment is not None:
            try:
                preview = {
                    **preview_of(conditions=segment.conditions, match=segment.match),
                    "errors": [],
                }
            except ValidationError as exc:
                preview = {"count": None, "sample": [], "errors": exc.messages}
        return _segment_page(request, form, segment, preview)

    _require_edit(request.user)
    form = SegmentForm(request.POST, rows=_segment_rows(request))
    action = request.POST.get("action", "save")
    if action != "save" or not form.is_valid():
        status = 400 if action == "save" else 200
        return _segment_page(request, form, segment, _preview(form), status=status)
    try:
        segment = services.segment_save(
            segment=segment,
            name=form.cleaned_data["name"],
            description=form.cleaned_data["description"],
            match=form.cleaned_data["match"],
            conditions=form.cleaned_data["conditions"],
            actor=request.user,
        )
    except ValidationError as exc:
        form.add_error(None, exc)
        return _segment_page(request, form, segment, _preview(form), status=400)
    messages.success(request, f"Saved the segment {segment.name}.")
    return redirect("segment-edit", slug=segment.slug)


@login_required
@require_POST
def segment_preview(request):
    """The live count and sample for the form being edited (htmx swaps it in)."""
    _require_read(request.user)
    form = SegmentForm(request.POST, rows=_segment_rows(request))
    return render(
        request, "campaigns/segment_form.html#preview", {"preview": _preview(form), "form": form}
    )


# --- campaigns ----------------------------------------------------------------------------


@login_required
def campaign_list(request):
    _require_read(request.user)
    return render(
        request,
        "campaigns/campaign_list.html",
        {"campaigns": campaigns_selected(), "can_edit": can_edit_marketing(request.user)},
    )


@login_required
@require_http_methods(["GET", "POST"])
def campaign_edit(request, slug=None):
    _require_edit(request.user)
    campaign = get_object_or_404(Campaign, slug=slug) if slug else None
    form = CampaignForm(request.POST or None, instance=campaign)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        name, channel = data.pop("name"), data.pop("channel")
        slug_value = slugify(data.pop("slug") or name)[:100]
        if not slug_value or slug_value in services.RESERVED_SLUGS:
            form.add_error(
                "slug", f"{slug_value or 'The name'!r} is not a usable slug; enter another."
            )
        else:
            try:
                with transaction.atomic():
                    if campaign is None:
                        campaign = services.campaign_create(
                            name=name,
                            channel=channel,
                            slug=slug_value,
                            created_by=request.user,
                            fields=data,
                        )
                    else:
                        campaign.slug = slug_value
                        services.campaign_update(
                            campaign=campaign, changes={"name": name, "channel": channel, **data}
                        )
            except IntegrityError:
                form.add_error("slug", f"The slug {slug_value!r} is taken.")
            else:
                messages.success(request, f"Saved the campaign {campaign.name}.")
                return redirect("campaign-detail", slug=campaign.slug)
    status = 400 if request.method == "POST" else 200
    return render(
        request, "campaigns/campaign_form.html", {"form": form, "campaign": campaign}, status=status
    )


@login_required
def campaign_detail(request, slug):
    _require_read(request.user)
    campaign = get_object_or_404(
        Campaign.objects.select_related("segment", "owner", "created_by"), slug=slug
    )
    landing_url = settings.SITE_URL + reverse("landing", args=[campaign.slug])
    utm = "&".join(
        f"{name}={value}"
        for name, value in (
            ("utm_source", campaign.utm_source),
            ("utm_medium", campaign.utm_medium),
            ("utm_campaign", campaign.utm_campaign),
        )
        if value
    )
    return render(
        request,
        "campaigns/campaign_detail.html",
        {
            "campaign": campaign,
            "can_edit": can_edit_marketing(request.user),
            "by_stage": campaign_members_by_stage(campaign),
            "members": campaign_recent_members(campaign),
            "submissions": campaign_recent_submissions(campaign),
            "landing_url": landing_url,
            "tracked_url": f"{landing_url}?{utm}" if utm else landing_url,
            "capture_url": settings.SITE_URL + reverse("api-capture", args=[campaign.slug]),
        },
    )


@login_required
@require_POST
def campaign_token_rotate(request, slug):
    _require_edit(request.user)
    campaign = get_object_or_404(Campaign, slug=slug)
    services.campaign_token_rotate(campaign=campaign)
    messages.success(request, "A new capture token is in use; the old one no longer works.")
    return redirect("campaign-detail", slug=campaign.slug)


# --- scoring rules ------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def scoring_rules(request):
    _require_read(request.user)
    form = ScoringRuleForm(request.POST or None)
    if request.method == "POST":
        _require_edit(request.user)
        if form.is_valid():
            rule = services.scoring_rule_save(
                name=form.cleaned_data["name"],
                segment=form.cleaned_data["segment"],
                points=form.cleaned_data["points"],
                is_active=form.cleaned_data["is_active"],
            )
            messages.success(request, f"Added the rule {rule}; scores are being recomputed.")
            return redirect("scoring-rules")
    return render(
        request,
        "campaigns/scoring_rules.html",
        {
            "rules": ScoringRule.objects.select_related("segment"),
            "form": form,
            "can_edit": can_edit_marketing(request.user),
            "threshold": settings.HANDOFF_MQL_THRESHOLD,
            "half_life": settings.HANDOFF_SCORE_HALF_LIFE_DAYS,
            "points": settings.HANDOFF_ENGAGEMENT_POINTS,
            # Predictive scoring (issue 16): the MQL threshold as a probability.
            "predictive": PredictiveSettings.load(),
        },
        status=400 if request.method == "POST" else 200,
    )


@login_required
@require_POST
def scoring_rule_delete(request, pk):
    _require_edit(request.user)
    rule = get_object_or_404(ScoringRule, pk=pk)
    try:
        services.scoring_rule_delete(rule=rule)
    except ProtectedError:  # pragma: no cover - rules protect segments, not the reverse
        messages.error(request, "That rule is in use.")
    messages.success(request, f"Deleted the rule {rule.name}; scores are being recomputed.")
    return redirect("scoring-rules")


# --- public landing pages -----------------------------------------------------------------


def _landing(
    request, campaign, form, *, refused: Refused | None = None, status=200, referrer: str = ""
):
    response = render(
        request,
        "campaigns/landing.html",
        {
            "campaign": campaign,
            "form": form,
            "refused": refused,
            # Where the visitor came from, carried by the form to its post.
            "referrer": referrer[:500],
        },
        status=status,
    )
    if refused is not None and refused.retry_after:
        response["Retry-After"] = str(refused.retry_after)
    return response


def _closed(request, refused: Refused, campaign=None):
    return render(
        request,
        "campaigns/landing_closed.html",
        {"refused": refused, "campaign": campaign},
        status=refused.status,
    )


@csrf_protect
def _landing_post(request, campaign):
    form = CaptureForm(request.POST, campaign=campaign)
    referrer = str(request.POST.get("referrer") or "")
    try:
        fields = capture_validate(form)
        capture_submit(
            campaign=campaign,
            fields=fields,
            via=CaptureSubmission.Via.PAGE,
            attribution=attribution_from(request.GET, request.POST),
            # The page's own referrer, kept in the form from the visit (the post's is the page).
            referrer=referrer or request.META.get("HTTP_REFERER", ""),
            landing_page=request.build_absolute_uri(),
        )
    except Refused as refused:
        return _landing(
            request, campaign, form, refused=refused, status=refused.status, referrer=referrer
        )
    return redirect("landing-thanks", slug=campaign.slug)


# The CSRF check runs inside, after the size check: reading an oversized body to find the
# CSRF token would fail before the page could say why it refused.
@frameable
@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def landing(request, slug):
    campaign = Campaign.objects.filter(slug=slug).first()
    try:
        campaign_open_check(campaign)
    except Refused as refused:
        return _closed(request, refused, campaign)
    if request.method in ("GET", "HEAD"):  # HEAD: the same answer; the server drops the body
        return _landing(
            request,
            campaign,
            CaptureForm(campaign=campaign),
            referrer=request.META.get("HTTP_REFERER", ""),
        )
    try:
        body_size_check(request)
        rate_limit_check(client_ip(request))
    except Refused as refused:
        return _landing(
            request,
            campaign,
            CaptureForm(campaign=campaign),
            refused=refused,
            status=refused.status,
        )
    return _landing_post(request, campaign)


@frameable
def landing_thanks(request, slug):
    campaign = Campaign.objects.filter(slug=slug, capture_published=True).first()
    if campaign is None:
        return _closed(request, Refused("There is no such campaign form.", status=404))
    return render(request, "campaigns/landing_thanks.html", {"campaign": campaign})
