"""Forms of the sales workspace: criteria, settings, territories, pipeline stages."""

from django import forms
from django.contrib.auth import get_user_model

from leads.fields import NUMERIC_FIELDS
from leads.roles import SALES_REP

from .criteria import FREE_MAIL_DOMAINS, clean_values
from .models import AcceptanceCriterion, PipelineStage, TerritoryRule, WorkspaceSettings

Kind = AcceptanceCriterion.Kind


class ListField(forms.CharField):
    """A list typed one item a line (or comma-separated); stored as a JSON list."""

    widget = forms.Textarea(attrs={"rows": 4})

    def prepare_value(self, value):
        if isinstance(value, list):
            return "\n".join(str(item) for item in value)
        return value

    def to_python(self, value):
        return clean_values(super().to_python(value))

    def has_changed(self, initial, data):
        # An empty list left empty is no change (None vs "" made every blank extra territory
        # form look filled in, so the settings page could not be saved without a territory).
        return self.to_python(self.prepare_value(initial) or "") != self.to_python(data)


class CriterionForm(forms.ModelForm):
    values = ListField(
        label="Values",
        required=False,
        max_length=20_000,
        help_text="One a line: the list, the keywords, or the free-mail domains.",
    )

    class Meta:
        model = AcceptanceCriterion
        fields = ("name", "kind", "field", "values", "number", "required", "is_active", "order")
        labels = {"number": "Minimum", "is_active": "Active", "required": "Required"}

    def clean(self):
        data = super().clean()
        kind, field = data.get("kind"), data.get("field")
        values = data.get("values") or []
        if kind == Kind.BUSINESS_EMAIL:
            data["field"] = "email"
            if not values:
                data["values"] = list(FREE_MAIL_DOMAINS)
            else:
                data["values"] = [value.lower().lstrip("@") for value in values]
        elif kind == Kind.IN_SEGMENT:
            data["field"] = ""
        elif not field:
            self.add_error("field", "Choose the lead field this criterion checks.")
        if kind in (Kind.IN_LIST, Kind.CONTAINS_ANY) and not values:
            self.add_error("values", "List at least one value.")
        if kind == Kind.AT_LEAST:
            if data.get("number") is None:
                self.add_error("number", "Give the minimum.")
            elif data["number"] < 0:
                self.add_error("number", "The minimum cannot be negative.")
            if field and field not in NUMERIC_FIELDS:
                self.add_error("field", "A number criterion checks a numeric field (company size).")
        if len(values) > 1000:
            self.add_error("values", "Keep the list under 1000 items.")
        return data


class WorkspaceSettingsForm(forms.ModelForm):
    class Meta:
        model = WorkspaceSettings
        fields = ("sla_hours", "round_robin")
        labels = {"sla_hours": "SLA hours", "round_robin": "Assign new MQLs round robin"}


class TerritoryForm(forms.ModelForm):
    countries = ListField(label="Countries", max_length=5000, widget=forms.Textarea({"rows": 2}))

    class Meta:
        model = TerritoryRule
        fields = ("name", "countries", "reps", "order", "is_active")
        labels = {"reps": "Reps", "is_active": "Active"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reps"].queryset = (
            get_user_model()
            .objects.filter(is_active=True, groups__name=SALES_REP)
            .distinct()
            .order_by("username")
        )


TerritoryFormSet = forms.modelformset_factory(
    TerritoryRule, form=TerritoryForm, extra=1, can_delete=True
)

PipelineStageFormSet = forms.modelformset_factory(
    PipelineStage,
    fields=("name", "slug", "order", "probability", "is_active"),
    labels={"is_active": "Active", "probability": "Probability (%)"},
    extra=1,
)
