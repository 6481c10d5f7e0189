from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import render

from .filters import LeadFilter
from .models import Lead
from .roles import roles_of
from .selectors import lead_owner_candidates
from .stages import Stage

PAGE_SIZE = 50


@login_required
def lead_list(request):
    if not roles_of(request.user):
        raise PermissionDenied("Your account has no Handoff role.")
    leads = Lead.objects.select_related("owner").order_by("-created_at", "-id")
    filterset = LeadFilter(request.GET, queryset=leads, request=request)
    queryset = filterset.qs if filterset.is_valid() else leads.none()
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "leads/lead_list.html",
        {
            "page": page,
            "filter_errors": filterset.errors,
            "stages": Stage.choices,
            "owners": lead_owner_candidates(),
            "current": request.GET,
            "query": query.urlencode(),
        },
    )
