"""The MQL service level: how long an MQL may wait for accept or reject, the clock each
lead shows, and the breaches a beat task finds and e-mails once, as one digest per
recipient per check (never one e-mail per lead)."""

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.urls import reverse
from django.utils import timezone

from leads.models import Lead
from leads.roles import MANAGER
from leads.stages import Stage

from .import_stories import IMPORT_VERB
from .models import SlaBreach, Transition, WorkspaceSettings

# A clock turns "due soon" when this share of the SLA has gone.
DUE_SOON_SHARE = 0.75


@dataclass(frozen=True)
class SlaClock:
    state: str  # "ok", "due_soon", "breached", or "history" (an imported stay: no SLA)
    due_at: dt.datetime
    waited: dt.timedelta

    @property
    def label(self) -> str:
        return {
            "ok": "Within SLA",
            "due_soon": "Due soon",
            "breached": "SLA breached",
            "history": "Imported: no SLA",
        }[self.state]

    @property
    def waited_hours(self) -> int:
        return int(self.waited.total_seconds() // 3600)


def sla_clock(
    since: dt.datetime, *, hours: int, now: dt.datetime, imported: bool = False
) -> SlaClock:
    limit = dt.timedelta(hours=hours)
    waited = max(now - since, dt.timedelta(0))
    if imported:
        state = "history"
    elif waited >= limit:
        state = "breached"
    elif waited >= limit * DUE_SOON_SHARE:
        state = "due_soon"
    else:
        state = "ok"
    return SlaClock(state=state, due_at=since + limit, waited=waited)


def imported_stay(lead_ref: str = "pk", since_ref: str = "stage_changed_at") -> Exists:
    """True for a lead whose stay in MQL began with an import's log row: history brought
    from another system, not a lead waiting for sales now (no SLA clock, no breach)."""
    return Exists(
        Transition.objects.filter(
            lead=OuterRef(lead_ref),
            to_stage=Stage.MQL,
            verb=IMPORT_VERB,
            at=OuterRef(since_ref),
        )
    )


def sla_breaches_find(*, now: dt.datetime | None = None) -> list[int]:
    """Mark every MQL waiting past the SLA (once per stay in MQL); answer the ids of the
    breaches not yet e-mailed, old and new, for the notifier to claim. A stay an import
    began is history and never breaches."""
    now = now or timezone.now()
    hours = WorkspaceSettings.load().sla_hours
    limit = dt.timedelta(hours=hours)
    marked = SlaBreach.objects.filter(lead=OuterRef("pk"), mql_since=OuterRef("stage_changed_at"))
    overdue = (
        Lead.objects.filter(stage=Stage.MQL, stage_changed_at__lte=now - limit)
        .filter(~Exists(marked))
        .filter(~imported_stay())
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


def _manager_emails() -> list[str]:
    users = get_user_model().objects.filter(is_active=True).exclude(email="")
    return list(
        users.filter(groups__name=MANAGER).distinct().order_by("pk").values_list("email", flat=True)
    )


def _digests(breaches: list[SlaBreach]) -> dict[str, list[SlaBreach]]:
    """{recipient: their breaches}: an owner hears of their own leads, every manager of all."""
    managers = _manager_emails()
    digests: dict[str, list[SlaBreach]] = {}
    for breach in breaches:
        owner = breach.owner
        emails = []
        if owner is not None and owner.is_active and owner.email:
            emails.append(owner.email)
        for address in dict.fromkeys([*emails, *managers]):
            digests.setdefault(address, []).append(breach)
    return digests


# One digest lists at most this many leads by name; the rest are counted.
DIGEST_LISTED = 200


def _digest_message(address: str, breaches: list[SlaBreach], now: dt.datetime) -> EmailMessage:
    def line(breach: SlaBreach) -> str:
        lead = breach.lead
        waited = int((now - breach.mql_since).total_seconds() // 3600)
        owner = breach.owner.get_username() if breach.owner_id else "unassigned"
        link = settings.SITE_URL + reverse("lead-detail", args=[lead.pk])
        return (
            f"- {lead.display_name} ({lead.email or lead.external_id}): waited {waited} h, "
            f"due {timezone.localtime(breach.due_at):%Y-%m-%d %H:%M}, owner {owner}: {link}"
        )

    if len(breaches) == 1:
        breach = breaches[0]
        waited = int((now - breach.mql_since).total_seconds() // 3600)
        subject = f"SLA breached: {breach.lead.display_name} has waited {waited} h for a decision"
    else:
        subject = f"SLA breached: {len(breaches)} MQLs are waiting past the SLA for a decision"
    shown = breaches[:DIGEST_LISTED]
    body = [
        "These MQLs waited longer than the SLA for an accept or reject decision:",
        "",
        *map(line, shown),
    ]
    if len(breaches) > len(shown):
        body.append(f"... and {len(breaches) - len(shown):,} more in the queue.")
    body += ["", f"The queue: {settings.SITE_URL}{reverse('queue')}"]
    return EmailMessage(subject=subject, body="\n".join(body) + "\n", to=[address])


def sla_breaches_notify(
    *, breach_ids: list[int] | None = None, now: dt.datetime | None = None
) -> int:
    """E-mail the unsent breaches (all of them, or those of `breach_ids`) as ONE digest per
    recipient, at most once; answers how many breaches it marked.

    The breaches are claimed under a lock (others' claims skipped) and marked in the same
    transaction as the sends: a failed send rolls the marks back so a retry tries again (a
    recipient whose digest went out before the failure may then get it twice, never one
    e-mail per lead), and a second notifier finds them claimed or marked and sends nothing."""
    now = now or timezone.now()
    with transaction.atomic():
        claimed = (
            SlaBreach.objects.select_for_update(of=("self",), skip_locked=True)
            .select_related("lead", "owner")
            .filter(notified_at__isnull=True)
            .order_by("mql_since", "id")
        )
        if breach_ids is not None:
            claimed = claimed.filter(pk__in=breach_ids)
        breaches = list(claimed)
        if not breaches:
            return 0
        messages = [
            _digest_message(address, mine, now) for address, mine in _digests(breaches).items()
        ]
        if messages:
            with get_connection() as smtp:
                smtp.send_messages(messages)
        SlaBreach.objects.filter(pk__in=[b.pk for b in breaches]).update(notified_at=now)
    return len(breaches)


def sla_breach_notify(*, breach_id: int, now: dt.datetime | None = None) -> bool:
    """One breach's notice (what a task queued before digests asks for): a digest of one."""
    return sla_breaches_notify(breach_ids=[breach_id], now=now) > 0
