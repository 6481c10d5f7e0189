"""The MQL service level: how long an MQL may wait for accept or reject, the clock each
lead shows, and the breaches a beat task finds and e-mails once."""

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.urls import reverse
from django.utils import timezone

from leads.models import Lead
from leads.roles import MANAGER
from leads.stages import Stage

from .models import SlaBreach, WorkspaceSettings

# A clock turns "due soon" when this share of the SLA has gone.
DUE_SOON_SHARE = 0.75


@dataclass(frozen=True)
class SlaClock:
    state: str  # "ok", "due_soon" or "breached"
    due_at: dt.datetime
    waited: dt.timedelta

    @property
    def label(self) -> str:
        return {"ok": "Within SLA", "due_soon": "Due soon", "breached": "SLA breached"}[self.state]

    @property
    def waited_hours(self) -> int:
        return int(self.waited.total_seconds() // 3600)


def sla_clock(since: dt.datetime, *, hours: int, now: dt.datetime) -> SlaClock:
    limit = dt.timedelta(hours=hours)
    waited = max(now - since, dt.timedelta(0))
    if waited >= limit:
        state = "breached"
    elif waited >= limit * DUE_SOON_SHARE:
        state = "due_soon"
    else:
        state = "ok"
    return SlaClock(state=state, due_at=since + limit, waited=waited)


def sla_breaches_find(*, now: dt.datetime | None = None) -> list[int]:
    """Mark every MQL waiting past the SLA (once per stay in MQL); answer the ids of the
    breaches not yet e-mailed, old and new, for the notifier to claim."""
    now = now or timezone.now()
    hours = WorkspaceSettings.load().sla_hours
    limit = dt.timedelta(hours=hours)
    marked = SlaBreach.objects.filter(lead=OuterRef("pk"), mql_since=OuterRef("stage_changed_at"))
    overdue = (
        Lead.objects.filter(stage=Stage.MQL, stage_changed_at__lte=now - limit)
        .filter(~Exists(marked))
        .values_list("pk", "stage_changed_at", "owner_id")
    )
    SlaBreach.objects.bulk_create(
        [
            SlaBreach(
                lead_id=pk, mql_since=since, due_at=since + limit, found_at=now, owner_id=owner
            )
            for pk, since, owner in overdue.iterator(chunk_size=2000)
        ],
        batch_size=1000,
        # Another beat run marking the same stay at once is not a second breach.
        ignore_conflicts=True,
    )
    return list(
        SlaBreach.objects.filter(notified_at__isnull=True)
        .order_by("id")
        .values_list("pk", flat=True)
    )


def _recipients(breach: SlaBreach) -> list[str]:
    users = get_user_model().objects.filter(is_active=True).exclude(email="")
    emails = list(
        users.filter(groups__name=MANAGER).distinct().order_by("pk").values_list("email", flat=True)
    )
    if breach.owner_id and breach.owner.is_active and breach.owner.email:
        emails.insert(0, breach.owner.email)
    return list(dict.fromkeys(emails))


def sla_breach_notify(*, breach_id: int, now: dt.datetime | None = None) -> bool:
    """E-mail the owner and the managers about one breach, at most once.

    The breach row is claimed under a lock and marked in the same transaction as the
    send: a failed send rolls the mark back so a retry tries again, and a second
    notifier for the same breach finds it marked and sends nothing.
    """
    now = now or timezone.now()
    with transaction.atomic():
        breach = (
            SlaBreach.objects.select_for_update(of=("self",))
            .select_related("lead", "owner")
            .filter(pk=breach_id, notified_at__isnull=True)
            .first()
        )
        if breach is None:
            return False
        recipients = _recipients(breach)
        lead = breach.lead
        if recipients:
            waited = int((now - breach.mql_since).total_seconds() // 3600)
            link = settings.SITE_URL + reverse("lead-detail", args=[lead.pk])
            send_mail(
                subject=f"SLA breached: {lead.display_name} has waited {waited} h for a decision",
                message=(
                    f"The MQL {lead.display_name} ({lead.email or lead.external_id}) entered the "
                    f"queue at {timezone.localtime(breach.mql_since):%Y-%m-%d %H:%M} and was due "
                    f"a decision by {timezone.localtime(breach.due_at):%Y-%m-%d %H:%M}.\n"
                    f"Owner: {breach.owner.get_username() if breach.owner_id else 'unassigned'}\n"
                    f"Accept or reject it: {link}\n"
                ),
                from_email=None,
                recipient_list=recipients,
            )
        breach.notified_at = now
        breach.save(update_fields=["notified_at"])
    return True
