"""The opportunity pipeline: the board by pipeline stage, and moving a deal along it."""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction
from django.db.models import Case, F, Q, When

from leads.roles import has_role, is_manager
from leads.selectors import can_act_on, ownership_refusal

from .errors import InvalidTransition, StaleTransition, TransitionError, TransitionForbidden
from .lifecycle import SALES
from .models import Opportunity, PipelineStage


class OpportunityNotFound(TransitionError):
    status = 404
    code = "not_found"


@dataclass
class ForecastMonth:
    month: dt.date  # the first day of the close month
    count: int
    total: Decimal
    weighted: Decimal
    past: bool  # the month is over: every deal in it is overdue


@dataclass
class PipelineColumn:
    stage: PipelineStage
    deals: list  # the cards shown: the nearest closes first, at most CARDS_PER_COLUMN
    count: int
    total: Decimal
    weighted: Decimal
    all_deals: list = field(default_factory=list)  # every open deal in the stage

    @property
    def hidden(self) -> int:
        return self.count - len(self.deals)


# An imported pipeline holds thousands of open deals: a column shows the ones closing first
# (the page stays small), while its count, sums, the forecast and the overdue count cover all.
CARDS_PER_COLUMN = 50


def lead_deal(lead):
    """The lead's deal: the open one, else the last one closed; None when it has none."""
    return (
        Opportunity.objects.filter(lead=lead)
        .select_related("owner", "pipeline_stage")
        .order_by(
            Case(When(status=Opportunity.Status.OPEN, then=0), default=1),
            F("closed_at").desc(nulls_last=True),
            "-created_at",
            "-pk",
        )
        .first()
    )


def open_opportunities(user):
    """Open deals a user works: a rep's own (by deal or lead owner), every deal for a manager."""
    deals = Opportunity.objects.filter(status=Opportunity.Status.OPEN).select_related(
        "lead", "lead__owner", "owner", "pipeline_stage"
    )
    if not is_manager(user):
        deals = deals.filter(Q(owner=user) | Q(lead__owner=user))
    return deals.order_by("expected_close", "id")


def pipeline_board(user) -> list[PipelineColumn]:
    """One column per active pipeline stage (and any inactive stage still holding deals)."""
    deals = list(open_opportunities(user))
    stages = {stage.pk: stage for stage in PipelineStage.objects.filter(is_active=True)}
    for deal in deals:
        stages.setdefault(deal.pipeline_stage_id, deal.pipeline_stage)
    columns = []
    for stage in sorted(stages.values(), key=lambda s: (s.order, s.pk)):
        in_stage = [deal for deal in deals if deal.pipeline_stage_id == stage.pk]
        total = sum((deal.amount for deal in in_stage), Decimal(0))
        columns.append(
            PipelineColumn(
                stage=stage,
                deals=in_stage[:CARDS_PER_COLUMN],
                all_deals=in_stage,
                count=len(in_stage),
                total=total,
                weighted=(total * stage.probability / 100).quantize(Decimal("0.01")),
            )
        )
    return columns


def opportunity_move(
    *, opportunity_id: int, to_stage: str, actor, expected_stage: str | None = None
) -> Opportunity:
    """Move an open deal to another pipeline stage (by slug)."""
    with transaction.atomic():
        deal = (
            Opportunity.objects.select_for_update(of=("self",))
            .select_related("lead", "lead__owner", "pipeline_stage")
            .filter(pk=opportunity_id)
            .first()
        )
        if deal is None:
            raise OpportunityNotFound("No such opportunity.")
        if not has_role(actor, *SALES):
            raise TransitionForbidden("Only sales reps and managers move deals.")
        if not can_act_on(actor, deal.lead):
            raise TransitionForbidden(ownership_refusal(actor, deal.lead))
        if deal.status != Opportunity.Status.OPEN:
            raise StaleTransition(f"This deal is {deal.status} already.", lead_id=deal.lead_id)
        if expected_stage and deal.pipeline_stage.slug != expected_stage:
            raise StaleTransition(
                f"This deal is no longer in {expected_stage}: it is in "
                f"{deal.pipeline_stage.name} now.",
                lead_id=deal.lead_id,
            )
        target = PipelineStage.objects.filter(slug=str(to_stage or ""), is_active=True).first()
        if target is None:
            raise InvalidTransition(
                f"{to_stage!r} is not an active pipeline stage.",
                errors={"pipeline_stage": ["Choose an active pipeline stage."]},
            )
        deal.pipeline_stage = target
        deal.save(update_fields=["pipeline_stage"])
    return deal


def weighted_amount(deal) -> Decimal:
    """The deal's amount times its pipeline stage's probability."""
    return (deal.amount * deal.pipeline_stage.probability / 100).quantize(Decimal("0.01"))


def forecast_by_month(columns: list[PipelineColumn], *, today: dt.date) -> list[ForecastMonth]:
    """The weighted forecast (amount x probability) of the board's deals by close month."""
    months: dict[dt.date, list] = {}
    for column in columns:
        for deal in column.all_deals:
            months.setdefault(deal.expected_close.replace(day=1), []).append(deal)
    this_month = today.replace(day=1)
    return [
        ForecastMonth(
            month=month,
            count=len(deals),
            total=sum((deal.amount for deal in deals), Decimal(0)),
            weighted=sum((weighted_amount(deal) for deal in deals), Decimal(0)),
            past=month < this_month,
        )
        for month, deals in sorted(months.items())
    ]


def mark_overdue(columns: list[PipelineColumn], *, today: dt.date) -> int:
    """Flag each open deal whose expected close date has passed; answer how many."""
    overdue = 0
    for column in columns:
        for deal in column.all_deals:
            deal.overdue = deal.expected_close < today
            overdue += deal.overdue
    return overdue
