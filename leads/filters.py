import django_filters

from .models import Lead
from .selectors import lead_search, leads_by_owner, leads_in_bucket
from .stages import BUCKETS, Stage
from .touches import leads_touched_by


class LeadFilter(django_filters.FilterSet):
    stage = django_filters.ChoiceFilter(choices=Stage.choices)
    funnel = django_filters.ChoiceFilter(
        choices=[(bucket, bucket) for bucket in BUCKETS], method="filter_funnel"
    )
    campaign = django_filters.CharFilter(method="filter_campaign", max_length=100)
    source = django_filters.CharFilter(field_name="source", lookup_expr="iexact", max_length=150)
    external_id = django_filters.CharFilter(field_name="external_id", max_length=255)
    do_not_email = django_filters.TypedChoiceFilter(
        choices=[(value, value) for value in ("true", "false", "1", "0")],
        coerce=lambda value: value in ("true", "1"),
    )
    owner = django_filters.CharFilter(
        method="filter_owner", max_length=150, help_text="`me`, `none` or a username."
    )
    q = django_filters.CharFilter(method="filter_q", max_length=200, help_text="Search text.")
    # Attribution: a lead any of whose touches (first or latest per campaign) came with it.
    utm_source = django_filters.CharFilter(
        method="filter_touch", max_length=150, help_text="A touch's utm_source (any case)."
    )
    utm_campaign = django_filters.CharFilter(
        method="filter_touch", max_length=150, help_text="A touch's utm_campaign (any case)."
    )
    # The leads list's filters (also the API's). Declared only: add more beside them.
    created_after = django_filters.DateFilter(
        field_name="created_at", lookup_expr="date__gte", help_text="Created on or after (date)."
    )
    created_before = django_filters.DateFilter(
        field_name="created_at", lookup_expr="date__lte", help_text="Created on or before (date)."
    )
    score_min = django_filters.NumberFilter(
        field_name="score", lookup_expr="gte", help_text="Score at least."
    )
    score_max = django_filters.NumberFilter(
        field_name="score", lookup_expr="lte", help_text="Score at most."
    )

    class Meta:
        model = Lead
        fields = (
            "stage",
            "funnel",
            "campaign",
            "source",
            "external_id",
            "do_not_email",
            "owner",
            "q",
            "utm_source",
            "utm_campaign",
        )

    def filter_funnel(self, queryset, name, value):
        return leads_in_bucket(queryset, value)

    def filter_campaign(self, queryset, name, value):
        members = Lead.objects.filter(memberships__campaign__slug=value).values("pk")
        return queryset.filter(pk__in=members)

    def filter_owner(self, queryset, name, value):
        return leads_by_owner(queryset, value, self.request.user if self.request else None)

    def filter_q(self, queryset, name, value):
        return lead_search(queryset, value)

    def filter_touch(self, queryset, name, value):
        return leads_touched_by(queryset, name, value)
