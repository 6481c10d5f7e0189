from django import forms

from leads.stages import Stage

from .lifecycle import BANT, Rule
from .selectors import active_pipeline_stages, reasons_for

BANT_HELP = {
    "budget": "Is there money for it, and how much? Note what you heard.",
    "authority": "Who decides and signs? Note the people.",
    "need": "What problem does it solve for them?",
    "timeline": "When do they want to decide and start?",
}


class TransitionForm(forms.Form):
    """One action on the lead page: the fields its verb needs and nothing else."""

    to = forms.ChoiceField(choices=Stage.choices, widget=forms.HiddenInput)
    from_stage = forms.ChoiceField(choices=Stage.choices, widget=forms.HiddenInput)
    note = forms.CharField(
        label="Note", required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, rule: Rule, **kwargs):
        # Several action forms share a page: keep their element ids apart.
        kwargs.setdefault("auto_id", f"id_{rule.verb}_{rule.target}_%s")
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.rule = rule
        self.fields["to"].initial = rule.target
        self.fields["from_stage"].initial = rule.source
        if rule.needs_reason:
            self.fields["reason"] = forms.ChoiceField(
                label="Reason",
                choices=[("", "Choose a reason…")]
                + [(code.code, code.label) for code in reasons_for(rule.verb)],
            )
        if rule.verb == "qualify":
            for question in BANT:
                self.fields[question] = forms.CharField(
                    label=question.capitalize(),
                    max_length=2000,
                    widget=forms.Textarea(attrs={"rows": 2}),
                    help_text=BANT_HELP[question],
                )
        if rule.verb == "convert":
            self.fields["amount"] = forms.DecimalField(
                label="Amount", min_value=0.01, max_digits=14, decimal_places=2
            )
            self.fields["expected_close"] = forms.DateField(
                label="Expected close", widget=forms.DateInput(attrs={"type": "date"})
            )
            self.fields["pipeline_stage"] = forms.ChoiceField(
                label="Pipeline stage",
                choices=[(stage.slug, stage.name) for stage in active_pipeline_stages()],
            )
        # The note goes last, after what the verb needs.
        self.order_fields([name for name in self.fields if name != "note"] + ["note"])

    @property
    def verb_fields(self) -> dict:
        skip = {"to", "from_stage", "note", "reason"}
        return {name: value for name, value in self.cleaned_data.items() if name not in skip}
