from django import forms

from funnel.models import ReasonCode

from .mailing import template_problem
from .models import ContentAsset, Exit, Programme, Step


class AssetForm(forms.ModelForm):
    url = forms.URLField(label="URL", max_length=500, assume_scheme="https")

    class Meta:
        model = ContentAsset
        fields = ("title", "kind", "url", "summary", "aida_stage")
        labels = {"url": "URL", "aida_stage": "AIDA stage"}
        widgets = {"summary": forms.Textarea(attrs={"rows": 3})}


def _reason_choices():
    return [(code.code, code.label) for code in ReasonCode.objects.filter(is_active=True)]


class ProgrammeForm(forms.ModelForm):
    exits = forms.MultipleChoiceField(
        label="Exits", choices=Exit.choices, widget=forms.CheckboxSelectMultiple
    )
    reasons = forms.MultipleChoiceField(
        label="Reason codes",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Leave all unticked to catch every reason.",
    )

    class Meta:
        model = Programme
        fields = ("name", "exits", "reasons", "priority", "is_active")
        labels = {"is_active": "Active"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reasons"].choices = _reason_choices()


class StepForm(forms.Form):
    kind = forms.ChoiceField(label="Step", choices=Step.Kind.choices)
    subject = forms.CharField(label="Subject", max_length=200, required=False)
    body = forms.CharField(
        label="Body",
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="Use {{ lead.first_name }}, {{ lead.company }}, {{ asset.title }}…",
    )
    asset = forms.ModelChoiceField(
        label="Asset",
        queryset=ContentAsset.objects.all(),
        required=False,
        empty_label="Fit the lead's journey stage",
    )
    wait_days = forms.IntegerField(label="Wait (days)", min_value=0, max_value=3650, required=False)
    audience_name = forms.CharField(label="Audience", max_length=150, required=False)

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        if kind == Step.Kind.EMAIL:
            for field in ("subject", "body"):
                value = data.get(field, "")
                if not value.strip():
                    self.add_error(field, "An e-mail step needs this.")
                elif problem := template_problem(value):
                    self.add_error(field, f"The template does not compile: {problem}")
        elif kind == Step.Kind.WAIT:
            if not data.get("wait_days"):
                self.add_error("wait_days", "Wait at least one day.")
        elif kind == Step.Kind.AUDIENCE and not data.get("audience_name", "").strip():
            self.add_error("audience_name", "Name the audience.")
        return data
