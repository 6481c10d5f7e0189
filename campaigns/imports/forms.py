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


# What a stage value may mean: a stage, a stage with the deal's pipeline stage, or an outcome
# (how far the lead got, and how it ended), as the select encodes them.
OUTCOMES = (
    ("nurture<opportunity", "Lost: reached opportunity, lost (lose → nurture)"),
    ("nurture<sql", "Disqualified after SQL (→ nurture)"),
    ("nurture<sal", "Disqualified after SAL (→ nurture)"),
    ("nurture<mql", "Rejected after MQL (→ nurture)"),
    ("junk<mql", "Junk after MQL"),
)


def stage_value_choice(entry) -> str:
    if isinstance(entry, dict):
        stage = entry.get("stage", "")
        if entry.get("reached") and entry["reached"] != stage:
            return f"{stage}<{entry['reached']}"
        if entry.get("pipeline_stage"):
            return f"{stage}@{entry['pipeline_stage']}"
        return stage
    return entry or ""


def stage_value_entry(choice: str, reason: str = ""):
    if "<" in choice:
        stage, reached = choice.split("<", 1)
        entry = {"stage": stage, "reached": reached}
        if reason:
            entry["reason"] = reason
        return entry
    if "@" in choice:
        stage, pipeline_stage = choice.split("@", 1)
        return {"stage": stage, "pipeline_stage": pipeline_stage}
    return choice


def stage_value_choices() -> list[tuple[str, str]]:
    from funnel.models import PipelineStage

    pipeline = [
        (f"opportunity@{p.slug}", f"Opportunity, pipeline stage {p.name}")
        for p in PipelineStage.objects.filter(is_active=True).order_by("order", "pk")
    ]
    return [
        ("", "— undecided: choose —"),
        ("Stages", list(Stage.choices)),
        ("Opportunity in a pipeline stage", pipeline),
        ("Outcomes", list(OUTCOMES)),
    ]


class MappingForm(forms.Form):
    """One select per column, one per stage value of the whole file, one per deal owner
    matching nobody, dates, duplicates, assignment."""

    dayfirst = forms.ChoiceField(choices=DAYFIRST_CHOICES, required=False, label="Dates")
    on_duplicate = forms.ChoiceField(
        choices=ImportJob.OnDuplicate.choices, label="Leads that exist already"
    )
    default_stage = forms.ChoiceField(choices=Stage.choices, label="Stage")
    assign_open_mqls = forms.BooleanField(
        required=False,
        label="Assign the open MQLs of this file",
        help_text="Hand them round robin to the sales reps. Left off, imported history does "
        "not reach the reps' queue owners, and imported MQLs raise no SLA breach.",
    )

    enrol_nurture = forms.BooleanField(
        required=False,
        label="Enrol the leads that ended in nurture",
        help_text="Start their nurture programme now (by the stage they left and the reason). "
        "Left off, historic losses get no nurture e-mail.",
    )

    def __init__(
        self,
        *args,
        job: ImportJob,
        stage_values: list[str],
        samples: dict,
        value_counts: dict | None = None,
        owners: dict | None = None,
        **kwargs,
    ):
        initial = {
            "dayfirst": "" if job.dayfirst is None else ("1" if job.dayfirst else "0"),
            "on_duplicate": job.on_duplicate,
            "default_stage": job.default_stage,
            "assign_open_mqls": job.assign_open_mqls,
            "enrol_nurture": job.enrol_nurture,
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
        counts = value_counts or {}
        if stage_values:
            from funnel.models import ReasonCode

            choices = stage_value_choices()
            reasons = [("", "— no reason given —")] + [
                (r.code, r.label) for r in ReasonCode.objects.filter(is_active=True)
            ]
        for index, value in enumerate(stage_values):
            name = f"stage_value_{index}"
            entry = job.stage_values.get(value, "")
            self.fields[name] = forms.ChoiceField(
                choices=choices,
                required=False,
                initial=stage_value_choice(entry),
                label=value,
            )
            self.fields[f"{name}_reason"] = forms.ChoiceField(
                choices=reasons,
                required=False,
                initial=entry.get("reason", "") if isinstance(entry, dict) else "",
                label=f"Reason for {value}",
            )
            self.stage_fields.append(
                (self[name], value, counts.get(value, 0), self[f"{name}_reason"])
            )
        self.owner_fields = []
        if owners:
            from django.contrib.auth import get_user_model

            users = get_user_model().objects.filter(is_active=True).order_by("username")
            user_choices = [("", "Leave unassigned")] + [
                (u.username, f"{u.get_full_name() or u.username} ({u.username})") for u in users
            ]
        for index, (owner, rows) in enumerate((owners or {}).items()):
            name = f"owner_{index}"
            self.fields[name] = forms.ChoiceField(
                choices=user_choices,
                required=False,
                initial=(job.owner_choices or {}).get(owner, ""),
                label=owner,
            )
            self.owner_fields.append((self[name], owner, rows))

    def chosen(self) -> dict:
        data = self.cleaned_data
        mapping = {column: data[f"column_{index}"] for index, column in enumerate(self.job.columns)}
        stage_values = {
            value: stage_value_entry(data[field.name], data[reason.name])
            for field, value, _count, reason in self.stage_fields
        }
        dayfirst = {"": None, "1": True, "0": False}[data["dayfirst"]]
        return {
            "mapping": mapping,
            "stage_values": stage_values,
            "dayfirst": dayfirst,
            "on_duplicate": data["on_duplicate"],
            "default_stage": data["default_stage"],
            "assign_open_mqls": data["assign_open_mqls"],
            "enrol_nurture": data["enrol_nurture"],
            "owner_choices": {owner: data[field.name] for field, owner, _rows in self.owner_fields},
        }
