"""The MQL queue: what a rep sees waiting for a decision, and decisions on many leads."""

import datetime as dt
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import F, Prefetch, Q
from django.utils import timezone

from leads.models import Lead
from leads.roles import is_manager
from leads.stages import Stage

from .criteria import active_criteria, criteria_results, meets_required
from .errors import TransitionError
from .models import WorkspaceSettings
from .services import transition_lead
from .sla import SlaClock, sla_clock


@dataclass
class QueueRow:
    lead: Lead
    criteria: list[dict]
    meets_required: bool
    clock: SlaClock
    campaign: object | None = None


def queue_leads(user, *, sort: str = ""):
    """MQLs waiting for a decision, oldest first (or by predicted probability, highest
    first, unscored last): a rep's own and the unassigned ones; every MQL for a manager."""
    leads = Lead.objects.filter(stage=Stage.MQL).select_related("owner", "prediction")
    if not is_manager(user):
        leads = leads.filter(Q(owner=user) | Q(owner__isnull=True))
    if sort == "probability":
        best = F("prediction__probability").desc(nulls_last=True)
        return leads.order_by(best, "stage_changed_at", "id")
    return leads.order_by("stage_changed_at", "id")


def _latest_campaign(lead: Lead):
    memberships = list(lead.memberships.all())
    if not memberships:
        return None
    return max(memberships, key=lambda m: (m.touched_at, m.pk)).campaign


def queue_rows(leads, *, now: dt.datetime | None = None) -> list[QueueRow]:
    """Rows for a page of queue leads: criteria, SLA clock and campaign, with a fixed number
    of queries whatever the page's size."""
    now = now or timezone.now()
    criteria = active_criteria()
    hours = WorkspaceSettings.load().sla_hours
    # Through the reverse relation: funnel does not import campaigns.
    membership_model = Lead.memberships.rel.related_model
    leads = leads.prefetch_related(
        Prefetch("memberships", queryset=membership_model.objects.select_related("campaign"))
    )
    rows = []
    for lead in leads:
        results = criteria_results(lead, criteria=criteria)
        rows.append(
            QueueRow(
                lead=lead,
                criteria=results,
                meets_required=meets_required(results),
                clock=sla_clock(lead.stage_changed_at, hours=hours, now=now),
                campaign=_latest_campaign(lead),
            )
        )
    return rows


def queue_row(lead_id: int, *, now: dt.datetime | None = None) -> QueueRow | None:
    leads = Lead.objects.filter(pk=lead_id).select_related("owner", "prediction")
    rows = queue_rows(leads, now=now)
    return rows[0] if rows else None


@dataclass
class BulkResult:
    done: list[dict] = field(default_factory=list)
    refused: list[dict] = field(default_factory=list)

    @property
    def results(self) -> list[dict]:
        return sorted(self.done + self.refused, key=lambda r: r["index"])


def leads_decide(
    *,
    lead_ids: list[int],
    to: str,
    actor,
    expected_from: str | None = None,
    reason=None,
    note: str = "",
    fields: dict | None = None,
) -> BulkResult:
    """The same decision on many leads, each in its own transaction: the allowed ones are
    done, each refused one is reported with its status, code and message."""
    limit = settings.HANDOFF_BULK_MAX
    if len(lead_ids) > limit:
        from .errors import InvalidTransition

        raise InvalidTransition(
            f"At most {limit} leads at once.", errors={"leads": [f"Send at most {limit} ids."]}
        )
    outcome = BulkResult()
    for index, lead_id in enumerate(dict.fromkeys(lead_ids)):
        try:
            row = transition_lead(
                lead_id=lead_id,
                to=to,
                actor=actor,
                expected_from=expected_from,
                reason=reason,
                note=note,
                fields=fields,
            )
        except TransitionError as exc:
            outcome.refused.append(
                {
                    "index": index,
                    "lead": lead_id,
                    "status": exc.status,
                    "code": exc.code,
                    "detail": exc.message,
                    "errors": exc.errors,
                }
            )
        else:
            outcome.done.append({"index": index, "lead": lead_id, "status": 201, "row": row})
    return outcome
