"""The leads list's query: the filters (leads.filters.LeadFilter) and the column sort, shared
by the page, its CSV export and its bulk actions so all three act on the same leads."""

from dataclasses import dataclass

from django.db.models import F, QuerySet

from .filters import LeadFilter
from .models import Lead

# sort key -> the columns it orders by (the id last, so pages never shuffle).
SORTS = {
    "name": ("last_name", "first_name"),
    "company": ("company",),
    "stage": ("stage",),
    "owner": ("owner__username",),
    "source": ("source",),
    "score": ("score",),
    "created": ("created_at",),
}
DEFAULT_SORT = "-created"


@dataclass
class LeadQuery:
    leads: QuerySet[Lead]
    sort: str
    errors: dict
    filterset: LeadFilter


def _ordering(sort: str) -> list:
    descending = sort.startswith("-")
    columns = SORTS[sort.lstrip("-")]
    if descending:
        return [F(column).desc(nulls_last=True) for column in columns] + ["-id"]
    return [F(column).asc(nulls_last=True) for column in columns] + ["id"]


def lead_query(data, *, request) -> LeadQuery:
    """The leads a user asked for: filtered (a bad filter value matches nothing and is
    reported) and sorted by `sort` (a column key, `-` first for descending)."""
    sort = data.get("sort") or DEFAULT_SORT
    errors = {}
    if sort.lstrip("-") not in SORTS:
        errors["sort"] = [f"Sort by one of {', '.join(SORTS)} (a leading - for descending)."]
        sort = DEFAULT_SORT
    base = Lead.objects.select_related("owner")
    filterset = LeadFilter(data, queryset=base, request=request)
    if filterset.is_valid():
        leads = filterset.qs
    else:
        leads = base.none()
        errors.update(filterset.errors)
    return LeadQuery(
        leads=leads.order_by(*_ordering(sort)), sort=sort, errors=errors, filterset=filterset
    )


COLUMNS = (
    ("name", "Lead"),
    ("company", "Company"),
    ("stage", "Stage"),
    ("owner", "Owner"),
    ("source", "Source"),
    ("score", "Score"),
    ("created", "Created"),
)


def sort_columns(sort: str) -> list[dict]:
    """The list's columns: each header's label, the sort its link asks for, its aria-sort."""
    current, descending = sort.lstrip("-"), sort.startswith("-")
    columns = []
    for key, label in COLUMNS:
        if key == current:
            columns.append(
                {
                    "key": key,
                    "label": label,
                    "next": key if descending else f"-{key}",
                    "aria": "descending" if descending else "ascending",
                }
            )
        else:
            columns.append({"key": key, "label": label, "next": key, "aria": ""})
    return columns
