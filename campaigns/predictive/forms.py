from django import forms

from .models import Outcome


class TrainForm(forms.Form):
    outcome = forms.ChoiceField(label="Outcome", choices=Outcome.choices)
    excluded = forms.CharField(
        label="Excluded fields",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="One field a line, e.g. attributes.Tags or Tags: fields set after the "
        "decision give the answer away.",
    )

    def clean_excluded(self) -> list[str]:
        lines = self.cleaned_data["excluded"].replace(",", "\n").splitlines()
        names = sorted({line.strip() for line in lines if line.strip()})
        if len(names) > 500:
            raise forms.ValidationError("At most 500 fields.")
        if any(len(name) > 200 for name in names):
            raise forms.ValidationError("A field name is at most 200 characters.")
        return names


class ThresholdForm(forms.Form):
    mql_probability = forms.FloatField(
        label="MQL threshold as a probability (%)",
        required=False,
        min_value=1,
        max_value=99,
        help_text="A suspect or nurtured lead whose probability reaches this becomes an MQL. "
        "Empty: the points threshold alone.",
    )
