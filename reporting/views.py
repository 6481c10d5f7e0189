"""The dashboards: thin views over selectors.py. Every table has a CSV download
(`?export=<table>`) built from the same numbers the page shows."""

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import render
from django.utils import timezone

from campaigns.models import Campaign
from funnel.activities import first_touch_by_rep
from leads.roles import MANAGER, MARKETER, SALES_REP, has_role, roles_of
from leads.selectors import lead_owner_candidates
from leads.stages import FORWARD_PATH, FORWARD_RANK, Stage

from . import tables
from .charts import funnel_chart, trend_charts
from .exports import csv_response
from .selectors import (
    SCOREBOARD_SORTS,
    dashboard_numbers,
    funnel_scope,
    funnel_snapshot,
    leads_being_counted,
    scoreboard,
    snapshot_rows,
    trend_numbers,
)
from .serializers import FunnelQuerySerializer

FILTER_NAMES = ("since", "until", "campaign", "source", "owner")
BOARD_COLUMNS = (
    ("name", "Campaign"),
    ("leads", "Leads"),
    ("mqls", "MQLs"),
    ("acceptance_rate", "Acceptance rate"),
    ("", "Rejection reasons"),
    ("sqls", "SQLs"),
    ("opportunities", "Opportunities"),
    ("customers", "Customers"),
    ("won_amount", "Won amount"),
    ("cost_per_mql", "Cost per MQL"),
    ("cost_per_sql", "Cost per SQL"),
    ("cost_per_customer", "Cost per customer"),
)


def _require_role(user, *roles: str) -> None:
    held = roles_of(user)
    if not held:
        raise PermissionDenied("Your account has no Handoff role.")
    if roles and not has_role(user, *roles):
        raise PermissionDenied("This page is not for your role.")


def _scope(request, **fixed):
    """The filters from the query string (bad ones are reported and ignored)."""
    data = {name: request.GET.get(name) for name in FILTER_NAMES if request.GET.get(name)}
    data.update(fixed)
    query = FunnelQuerySerializer(data=data)
    filters = dict(query.validated_data) if query.is_valid() else dict(fixed)
    return funnel_scope(**filters, user=request.user), query.errors


def _query(scope, **extra) -> str:
    """The query string that selects the same leads on another page."""
    params = {
        name: value.isoformat() if hasattr(value, "isoformat") else value
        for name, value in scope.filters.items()
    }
    params.update({k: v for k, v in extra.items() if v not in (None, "")})
    return urlencode(params)


def _context(request, scope, errors, **extra):
    zone = timezone.get_default_timezone()
    return {
        "current": request.GET,
        "filter_errors": errors,
        "time_zone": str(zone),
        "today": timezone.localdate(timezone=zone),
        "query": _query(scope),
        "campaigns": Campaign.objects.only("name", "slug"),
        "owners": lead_owner_candidates(),
        "board_columns": BOARD_COLUMNS,
        "catching_up": leads_being_counted(),
        **extra,
    }


def _per(request) -> str:
    return "month" if request.GET.get("per") == "month" else "week"


def _sort(request) -> tuple[str, bool]:
    sort = request.GET.get("sort", "mqls")
    return (sort if sort in SCOREBOARD_SORTS else "mqls"), request.GET.get("dir") != "asc"


def _export(request, name: str, tables_by_name: dict):
    make = tables_by_name.get(name)
    if make is None:
        return None
    headers, rows = make()
    return csv_response(f"handoff-{name}", headers, rows)


@login_required
def dashboard(request):
    """The manager dashboard: every role reads it; numbers for a date range and filters."""
    _require_role(request.user)
    scope, errors = _scope(request)
    numbers = dashboard_numbers(scope)
    trends = trend_numbers(scope, per=_per(request))
    sort, descending = _sort(request)
    board = scoreboard(scope, sort=sort, descending=descending)
    export = request.GET.get("export")
    if export:
        response = _export(
            request,
            export,
            {
                "stages": lambda: tables.stages_table(numbers),
                "funnel": lambda: tables.funnel_table(numbers),
                "velocity": lambda: tables.velocity_table(numbers),
                "handoff": lambda: tables.handoff_table(numbers),
                "nurture": lambda: tables.nurture_table(numbers),
                "trends": lambda: tables.trends_table(trends),
                "scoreboard": lambda: tables.scoreboard_table(board),
            },
        )
        if response is not None:
            return response
    context = _context(
        request,
        scope,
        errors,
        numbers=numbers,
        chart=funnel_chart(numbers["path"]),
        trends=trends,
        trend_charts=trend_charts(trends, FORWARD_PATH[1:]),
        board=board,
        sort=sort,
        descending=descending,
        # Speed to first touch (issue 15): sales's half of the handoff, from funnel.activities.
        first_touch=first_touch_by_rep(since=scope.since, until=scope.until),
    )
    return render(request, "dashboards/dashboard.html", context, status=400 if errors else 200)


def _scoreboard_page(request, *, title: str, created_by=None):
    scope, errors = _scope(request)
    sort, descending = _sort(request)
    board = scoreboard(scope, sort=sort, descending=descending, created_by=created_by)
    if request.GET.get("export") == "scoreboard":
        return csv_response("handoff-scoreboard", *tables.scoreboard_table(board))
    context = _context(
        request, scope, errors, board=board, sort=sort, descending=descending, title=title
    )
    return render(request, "dashboards/scoreboard.html", context, status=400 if errors else 200)


@login_required
def campaign_scoreboard(request):
    """Marketing and sales, one page: every role reads it."""
    _require_role(request.user)
    return _scoreboard_page(request, title="Campaign scoreboard")


@login_required
def my_campaigns(request):
    """A marketer's campaigns: the ones they created."""
    _require_role(request.user, MARKETER, MANAGER)
    return _scoreboard_page(request, title="My campaigns", created_by=request.user)


@login_required
def my_numbers(request):
    """A sales rep's own numbers: the leads they own."""
    _require_role(request.user, SALES_REP, MANAGER)
    scope, errors = _scope(request, owner="me")
    numbers = dashboard_numbers(scope)
    export = request.GET.get("export")
    if export:
        response = _export(
            request,
            export,
            {
                "funnel": lambda: tables.funnel_table(numbers),
                "handoff": lambda: tables.handoff_table(numbers),
                "stages": lambda: tables.stages_table(numbers),
            },
        )
        if response is not None:
            return response
    context = _context(request, scope, errors, numbers=numbers, chart=funnel_chart(numbers["path"]))
    return render(request, "dashboards/mine.html", context, status=400 if errors else 200)


PAGE_SIZE = 50


@login_required
def leads_behind(request):
    """The leads behind a number: in a stage now (`stage`) or that reached one (`reached`)."""
    _require_role(request.user)
    scope, errors = _scope(request)
    facts = scope.facts().select_related("lead__owner").order_by("-entered_at", "-lead_id")
    stage, reached = request.GET.get("stage"), request.GET.get("reached")
    if stage in Stage.values:
        facts = facts.filter(stage=stage)
    elif stage:
        errors = {**errors, "stage": [f"Use one of: {', '.join(Stage.values)}."]}
    if reached in FORWARD_RANK:
        facts = facts.filter(furthest__gte=FORWARD_RANK[reached])
    elif reached:
        errors = {**errors, "reached": [f"Use one of: {', '.join(FORWARD_PATH)}."]}
    if errors:
        facts = facts.none()
    if request.GET.get("export") == "leads":
        return csv_response("handoff-leads", *tables.leads_table(facts.iterator()))
    page = Paginator(facts, PAGE_SIZE).get_page(request.GET.get("page"))
    context = _context(
        request,
        scope,
        errors,
        page=page,
        stage=stage if stage in Stage.values else "",
        reached=reached if reached in FORWARD_RANK else "",
        here=_query(scope, stage=stage, reached=reached),
    )
    return render(request, "dashboards/leads.html", context, status=400 if errors else 200)


@login_required
def home(request):
    """The home page: everyone's funnel and the user's own."""
    _require_role(request.user)
    return render(
        request,
        "funnel/home.html",
        {
            "everyone": snapshot_rows(funnel_snapshot(user=request.user)),
            "mine": snapshot_rows(funnel_snapshot(user=request.user, owner="me")),
        },
    )
