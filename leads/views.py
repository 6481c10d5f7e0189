from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import render

from .lead_list import lead_query, sort_columns
from .models import Lead
from .roles import MANAGER, MARKETER, has_role, is_manager, roles_of
from .selectors import lead_owner_candidates
from .stages import Stage

PAGE_SIZE = 50


def _campaigns():
    """Campaigns for the filter and "Add to campaign", by name (through the membership
    relation: leads does not import campaigns)."""
    campaign_model = Lead.memberships.rel.related_model._meta.get_field("campaign").related_model
    return campaign_model.objects.order_by("name").only("name", "slug")


def _reasons():
    """Active reason codes for a bulk move that needs one (looked up by name: leads does not
    import funnel)."""
    from django.apps import apps

    return apps.get_model("funnel", "ReasonCode").objects.filter(is_active=True)


def lead_list_context(request, data=None) -> dict:
    """The page's context for the filters in `data` (the query string by default)."""
    data = request.GET if data is None else data
    found = lead_query(data, request=request)
    page = Paginator(found.leads, PAGE_SIZE).get_page(data.get("page"))
    query = data.copy()
    query.pop("page", None)
    filters = query.copy()
    filters.pop("sort", None)
    manager = is_manager(request.user)
    return {
        "page": page,
        "filter_errors": found.errors,
        "stages": Stage.choices,
        "owners": lead_owner_candidates(),
        "campaigns": _campaigns(),
        "current": data,
        "sort": found.sort,
        "columns": sort_columns(found.sort),
        "query": query.urlencode(),
        "filter_query": filters.urlencode(),
        "reasons": _reasons(),
        "can_assign": manager,
        "can_add_to_campaign": has_role(request.user, MARKETER, MANAGER),
    }


@login_required
def lead_list(request):
    if not roles_of(request.user):
        raise PermissionDenied("Your account has no Handoff role.")
    return render(request, "leads/lead_list.html", lead_list_context(request))
