from django import forms

from campaigns.models import Campaign
from leads.stages import Stage

from .mapping import TARGETS
from .models import ImportJob

DAYFIRST_CHOICES = (
    ("", "Not set (month first)"),
    ("1", "Day first: 31/12/2024"),
    ("0", "Month first: 12/31/2024"),
)


class UploadForm(forms.Form):
    file = forms.FileField(label="CSV file")
    campaign = forms.ModelChoiceField(
        queryset=Campaign.objects.order_by("name"),
        required=False,
        empty_label="No campaign",
        label="Campaign",
    )
    stage = forms.ChoiceField(
        choices=Stage.choices,
        initial=Stage.SUSPECT,
        label="Stage",
        help_text="The stage of every row when the file has no stage column.",
    )


class MappingForm(forms.Form):
    """One select per column, one per stage value seen, dates, duplicates."""

    dayfirst = forms.ChoiceField(choices=DAYFIRST_CHOICES, required=False, label="Dates")
    on_duplicate = forms.ChoiceField(
        choices=ImportJob.OnDuplicate.choices, label="Leads that exist already"
    )
    default_stage = forms.ChoiceField(choices=Stage.choices, label="Stage")

    def __init__(self, *args, job: ImportJob, stage_values: list[str], samples: dict, **kwargs):
        initial = {
            "dayfirst": "" if job.dayfirst is None else ("1" if job.dayfirst else "0"),
            "on_duplicate": job.on_duplicate,
            "default_stage": job.default_stage,
        }
        super().__init__(*args, initial=initial, **kwargs)
        self.job = job
        self.column_fields = []
        for index, column in enumerate(job.columns):
            name = f"column_{index}"
            self.fields[name] = forms.ChoiceField(
                choices=TARGETS, initial=job.mapping.get(column, "attribute"), label=column
            )
            self.column_fields.append((self[name], samples.get(column, [])))
        self.stage_fields = []
        stage_choices = [("", "— not mapped: the row fails —"), *Stage.choices]
        for index, value in enumerate(stage_values):
            name = f"stage_value_{index}"
            self.fields[name] = forms.ChoiceField(
                choices=stage_choices,
                required=False,
                initial=job.stage_values.get(value, ""),
                label=value,
            )
            self.stage_fields.append((self[name], value))

    def chosen(self) -> dict:
        data = self.cleaned_data
        mapping = {column: data[f"column_{index}"] for index, column in enumerate(self.job.columns)}
        stage_values = {value: data[field.name] for field, value in self.stage_fields}
        dayfirst = {"": None, "1": True, "0": False}[data["dayfirst"]]
        return {
            "mapping": mapping,
            "stage_values": stage_values,
            "dayfirst": dayfirst,
            "on_duplicate": data["on_duplicate"],
            "default_stage": data["default_stage"],
        }
