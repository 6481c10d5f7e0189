"""Capture: a landing-page form or another site's form creates or updates a lead.

`capture_form_for` builds the form a campaign shows (and the API validates with);
`capture_submit` writes everything in one transaction, only after every check passed, so a
refused submission writes nothing.
"""

import contextlib
import datetime as dt
import math
import time
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from django import forms
from django.conf import settings
from django.core.cache import caches
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from funnel.errors import TransitionError
from funnel.services import lead_create, transition_lead
from leads.fields import CAPTURABLE, FIELD, INTEGER, TOUCH_IMPORT_FIELDS
from leads.models import Lead
from leads.services import DuplicateLead, lead_update
from leads.stages import Stage

from .models import Campaign, CampaignMembership, CaptureSubmission
from .scoring import engagement_record
from .services import membership_touch

# CAPTURABLE: lead fields a form may ask for, with their labels (e-mail is always asked);
# ATTRIBUTION: the tracking parameters a touch takes from the page's URL. Both from the spec.
ATTRIBUTION = TOUCH_IMPORT_FIELDS
HONEYPOT = "fax_number"
CAPTURE_MOVES = {Stage.SUSPECT: "engage", Stage.NURTURE: "recycle"}


class Refused(Exception):
    """A submission that is not taken; `status` and `code` for the answer, nothing written."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 400,
        code: str = "invalid",
        errors=None,
        retry_after: int | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.errors = errors or {}
        self.retry_after = retry_after  # seconds, for a Retry-After header (429)


def _max_length(name: str) -> int:
    return FIELD[name].max_length or 255


class CaptureForm(forms.Form):
    email = forms.EmailField(label="E-mail", max_length=254)

    def __init__(self, *args, campaign: Campaign, field_names=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.campaign = campaign
        names = campaign.capture_fields if field_names is None else field_names
        for name in names:
            if name not in CAPTURABLE:
                continue
            if FIELD[name].kind == INTEGER:
                self.fields[name] = forms.IntegerField(
                    label=CAPTURABLE[name], required=False, min_value=0, max_value=10_000_000
                )
            else:
                self.fields[name] = forms.CharField(
                    label=CAPTURABLE[name], required=False, max_length=_max_length(name)
                )
        if campaign.consent_text:
            self.fields["consent"] = forms.BooleanField(
                label=campaign.consent_text,
                required=True,
                error_messages={"required": "Please give your consent to send the form."},
            )
        # Hidden from people (see the template); bots fill every field they find.
        self.fields[HONEYPOT] = forms.CharField(
            label="Leave this field empty", required=False, max_length=255
        )

    def lead_fields(self) -> dict:
        return {
            name: value
            for name, value in self.cleaned_data.items()
            if name in CAPTURABLE and value not in (None, "")
        }


def client_ip(request) -> str:
    header = settings.HANDOFF_CAPTURE_IP_HEADER
    if header and request.META.get(header):
        return request.META[header].split(",")[0].strip()[:64]
    return request.META.get("REMOTE_ADDR", "")[:64]


def rate_key(ip: str) -> str:
    return f"capture-rate:{ip}"


def rate_limit_check(ip: str) -> None:
    """Count this post against the address's window; Refused (429) when over the limit."""
    cache = caches["capture"]
    key = rate_key(ip)
    window = settings.HANDOFF_CAPTURE_RATE_WINDOW
    # add() starts the window only if none is running; incr() is atomic on Redis.
    if cache.add(key, 0, timeout=window):
        cache.set(f"{key}:since", time.time(), timeout=window)
    try:
        count = cache.incr(key)
    except ValueError:  # the window expired between add() and incr()
        cache.set(key, 1, timeout=settings.HANDOFF_CAPTURE_RATE_WINDOW)
        count = 1
    if count > settings.HANDOFF_CAPTURE_RATE_LIMIT:
        since = cache.get(f"{key}:since")
        left = window if since is None else math.ceil(since + window - time.time())
        left = min(window, max(1, left))
        minutes = max(1, math.ceil(left / 60))
        raise Refused(
            f"Too many submissions from your address; please try again within {minutes} minutes.",
            status=429,
            code="rate_limited",
            retry_after=left,
        )


def body_size_check(request) -> None:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > settings.HANDOFF_CAPTURE_MAX_BYTES:
        raise Refused(
            f"The submission is too large ({length} bytes); "
            f"the limit is {settings.HANDOFF_CAPTURE_MAX_BYTES} bytes.",
            status=413,
            code="too_large",
        )


def campaign_open_check(campaign: Campaign | None, *, today: dt.date | None = None) -> Campaign:
    if campaign is None or not campaign.capture_published:
        raise Refused("There is no such campaign form.", status=404, code="not_found")
    today = today or timezone.localdate()
    if campaign.has_ended(today):
        raise Refused(
            f"This campaign ended on {campaign.ends_on:%Y-%m-%d}; it takes no more submissions.",
            status=410,
            code="campaign_ended",
        )
    return campaign


def attribution_from(*sources) -> dict:
    """UTM parameters and gclid: the first non-empty value among the sources (dicts), each
    limited to its column's length; a `page_url` in a source is read for its query too."""
    found = {}
    expanded = []
    for source in sources:
        expanded.append(source)
        page_url = str(source.get("page_url") or "")[:2000]
        if page_url:
            query = parse_qs(urlsplit(page_url).query)
            expanded.append({key: values[0] for key, values in query.items() if values})
    for name in ATTRIBUTION:
        for source in expanded:
            value = source.get(name)
            # PostgreSQL text cannot hold NUL; a tracking value is no worse without it.
            value = value.replace("\x00", "") if isinstance(value, str) else value
            if isinstance(value, str) and value.strip():
                length = CaptureSubmission._meta.get_field(name).max_length
                found[name] = value.strip()[:length]
                break
    return found


def _same_page(one: str, other: str) -> bool:
    """The same host and path (scheme and query aside: a proxy may change the one, the
    tracking parameters the other)."""
    if not one or not other:
        return False
    first, second = urlsplit(one), urlsplit(other)
    return (first.netloc, first.path) == (second.netloc, second.path)


@dataclass
class Captured:
    lead: Lead
    created: bool
    stage_before: str
    stage_after: str
    submission: CaptureSubmission


def capture_validate(form: CaptureForm) -> dict:
    """The lead fields of a valid form, or Refused saying why (honeypot, consent, fields)."""
    if not form.is_bound:
        raise Refused("Nothing was sent.")
    honeypot = form.data.get(HONEYPOT)
    if honeypot:
        raise Refused(
            "The submission was refused: a field meant to stay empty was filled in, "
            "as automated spam does.",
            code="spam",
        )
    if not form.is_valid():
        errors = {name: [str(e) for e in errs] for name, errs in form.errors.items()}
        if "consent" in errors:
            raise Refused(errors["consent"][0], code="consent_required", errors=errors)
        first = next(iter(errors.items()))
        label = form.fields[first[0]].label if first[0] in form.fields else first[0]
        raise Refused(f"{label}: {first[1][0]}", errors=errors)
    return {"email": form.cleaned_data["email"], **form.lead_fields()}


def capture_submit(
    *,
    campaign: Campaign,
    fields: dict,
    via: str,
    attribution: dict | None = None,
    referrer: str = "",
    landing_page: str = "",
    at: dt.datetime | None = None,
) -> Captured:
    """Create or update the lead (matched by e-mail), record the touch, the attribution and
    the engagement, and engage a suspect or recycle a nurtured lead; later stages keep theirs.
    """
    try:
        return _capture_write(
            campaign=campaign,
            fields=fields,
            via=via,
            attribution=attribution or {},
            referrer=referrer.replace("\x00", ""),  # PostgreSQL text cannot hold NUL
            landing_page=landing_page,
            at=at or timezone.now(),
            # Unless the caller dates the submission, the move is stamped once the lead is
            # locked, after any move it waited for (see transition_lead).
            move_at=at,
        )
    except (ValidationError, DuplicateLead) as exc:
        # The form checked the fields; this is a last line, and the transaction wrote nothing.
        message = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        raise Refused(message) from exc


def _capture_write(
    *, campaign, fields, via, attribution, referrer, landing_page, at, move_at
) -> Captured:
    how = (
        CampaignMembership.How.FORM
        if via == CaptureSubmission.Via.PAGE
        else CampaignMembership.How.API
    )
    who = f"capture {via} for campaign {campaign.slug}"[:150]
    with transaction.atomic():
        email = fields["email"].strip().lower()
        lead = Lead.objects.select_for_update(of=("self",)).filter(email=email).first()
        created = False
        if lead is None:
            new_fields = dict(fields)
            new_fields.setdefault(
                "source",
                attribution.get("utm_source")
                or campaign.utm_source
                or campaign.get_channel_display(),
            )
            try:
                with transaction.atomic():
                    lead = lead_create(
                        system_actor=who, fields=new_fields, campaign=campaign, at=at
                    )
                created = True
            except DuplicateLead:
                # Another submission created it a moment ago: update that one.
                lead = Lead.objects.select_for_update(of=("self",)).get(email=email)
        if not created:
            changes = {k: v for k, v in fields.items() if k != "email" and v not in (None, "")}
            if changes:
                lead_update(lead=lead, actor=None, changes=changes)
        stage_before = lead.stage
        touch = {
            **attribution,
            # A form's own page posting to itself is no referrer.
            "referrer": "" if _same_page(referrer, landing_page) else referrer,
            "landing_page": landing_page,
        }
        membership_touch(lead=lead, campaign=campaign, how=how, at=at, attribution=touch)
        if lead.stage in CAPTURE_MOVES:
            # If it moved on meanwhile the move is refused; the touch still counts.
            with contextlib.suppress(TransitionError):
                transition_lead(
                    lead_id=lead.pk,
                    to=Stage.MQL,
                    system_actor=f"form submitted on campaign {campaign.slug}"[:150],
                    expected_from=lead.stage,
                    campaign=campaign,
                    at=move_at,
                )
        engagement_record(
            lead_id=lead.pk,
            kind="form_submitted",
            at=at,
            campaign=campaign,
            detail=f"{via} form, campaign {campaign.slug}",
        )
        lead.refresh_from_db()
        submission = CaptureSubmission.objects.create(
            campaign=campaign,
            lead=lead,
            at=at,
            via=via,
            created_lead=created,
            stage_before=stage_before,
            stage_after=lead.stage,
            referrer=referrer[:500],
            consent_text=campaign.consent_text,
            fields={k: v for k, v in fields.items() if k != "email"},
            **attribution,
        )
    return Captured(lead, created, stage_before, lead.stage, submission)
