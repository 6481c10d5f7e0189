from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from leads.roles import MANAGER, MARKETER

from .capture import CAPTURABLE
from .models import Campaign, ScoringRule, Segment
from .segments import FIELDS, OPERATORS, conditions_clean
from .services import CAMPAIGN_FIELDS

MIN_ROWS = 3


class CampaignForm(forms.ModelForm):
    capture_fields = forms.MultipleChoiceField(
        label="Fields on the form (besides e-mail)",
        choices=list(CAPTURABLE.items()),
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )

    class Meta:
        model = Campaign
        fields = ("name", "slug", "channel", *CAMPAIGN_FIELDS)
        labels = {
            "segment": "Target segment",
            "positioning": "Positioning statement",
            "utm_source": "UTM source",
            "utm_medium": "UTM medium",
            "utm_campaign": "UTM campaign",
            "starts_on": "Starts on",
            "ends_on": "Ends on",
            "capture_published": "Publish the landing page",
            "capture_headline": "Headline",
            "consent_text": "Consent text",
        }
        widgets = {
            "starts_on": forms.DateInput(attrs={"type": "date"}),
            "ends_on": forms.DateInput(attrs={"type": "date"}),
            "positioning": forms.Textarea(attrs={"rows": 3}),
            "consent_text": forms.Textarea(attrs={"rows": 2}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["slug"].required = False
        self.fields["slug"].help_text = "Made from the name when left empty."
        self.fields["owner"].queryset = (
            get_user_model()
            .objects.filter(is_active=True, groups__name__in=[MARKETER, MANAGER])
            .distinct()
            .order_by("username")
        )
        self.fields["budget"].min_value = 0

    def clean(self):
        data = super().clean()
        starts, ends = data.get("starts_on"), data.get("ends_on")
        if starts and ends and ends < starts:
            self.add_error("ends_on", "The campaign cannot end before it starts.")
        budget = data.get("budget")
        if budget is not None and budget < 0:
            self.add_error("budget", "A budget cannot be negative.")
        return data


class SegmentForm(forms.Form):
    """A segment as a plain form: name, match, and numbered condition rows."""

    name = forms.CharField(label="Name", max_length=200)
    description = forms.CharField(
        label="Description", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    match = forms.ChoiceField(label="Match", choices=Segment.Match.choices)

    def __init__(self, *args, rows: int = MIN_ROWS, **kwargs):
        super().__init__(*args, **kwargs)
        self.rows = max(rows, MIN_ROWS)
        for index in range(self.rows):
            number = index + 1
            self.fields[f"field_{index}"] = forms.CharField(
                label=f"Field {number}",
                required=False,
                max_length=80,
                widget=forms.TextInput(attrs={"list": "segment-fields"}),
            )
            # Free text behind a select: the segment engine says what is wrong with a value.
            self.fields[f"operator_{index}"] = forms.CharField(
                label=f"Operator {number}",
                required=False,
                max_length=20,
                widget=forms.Select(choices=list(OPERATORS.items())),
            )
            self.fields[f"value_{index}"] = forms.CharField(
                label=f"Value {number}", required=False, max_length=2000
            )

    @classmethod
    def initial_for(cls, segment: Segment) -> tuple[dict, int]:
        initial = {"name": segment.name, "description": segment.description, "match": segment.match}
        for index, condition in enumerate(segment.conditions):
            value = condition.get("value")
            if isinstance(value, list):
                value = ", ".join(str(item) for item in value)
            elif isinstance(value, bool):
                value = "yes" if value else "no"
            initial[f"field_{index}"] = condition.get("field")
            initial[f"operator_{index}"] = condition.get("operator")
            initial[f"value_{index}"] = "" if condition.get("operator") == "present" else value
        return initial, len(segment.conditions) + 1

    def condition_rows(self):
        for index in range(self.rows):
            yield (
                self[f"field_{index}"],
                self[f"operator_{index}"],
                self[f"value_{index}"],
            )

    def clean(self):
        data = super().clean()
        raw = []
        for index in range(self.rows):
            field = (data.get(f"field_{index}") or "").strip()
            if not field:
                continue
            raw.append(
                {
                    "field": field,
                    "operator": data.get(f"operator_{index}") or "",
                    "value": data.get(f"value_{index}") or "",
                }
            )
        try:
            data["conditions"] = conditions_clean(raw)
        except ValidationError as exc:
            raise ValidationError(exc.messages) from None
        return data


FIELD_CHOICES = list(FIELDS)


class ScoringRuleForm(forms.ModelForm):
    class Meta:
        model = ScoringRule
        fields = ("name", "segment", "points", "is_active")
        labels = {"segment": "Leads in segment", "is_active": "Active"}

    def clean_segment(self):
        segment = self.cleaned_data["segment"]
        if any(condition.get("field") == "score" for condition in segment.conditions):
            # The score would feed back into itself.
            raise ValidationError("A fit rule cannot use a segment that filters on the score.")
        return segment

    def clean_points(self):
        points = self.cleaned_data["points"]
        if abs(points) > 1000:
            raise ValidationError("Keep points between -1000 and 1000.")
        return points
