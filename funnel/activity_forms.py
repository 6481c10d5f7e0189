"""Forms of a rep's working day on the lead page: log an activity, add a task, change the
owner, edit the lead's fields."""

import datetime as dt

from django import forms
from django.utils import timezone

from leads.selectors import lead_owner_candidates

from .activities import MAX_DURATION, MAX_NOTE
from .models import Activity

OUTCOMES = {
    "call": ["Connected", "Left a voicemail", "No answer", "Wrong number", "Call back later"],
    "email": ["Sent", "Replied", "Bounced"],
    "meeting": ["Held", "No show", "Rescheduled"],
}


class LocalDateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%dT%H:%M")


class ActivityForm(forms.Form):
    kind = forms.ChoiceField(label="Kind", choices=Activity.Kind.choices)
    outcome = forms.CharField(
        label="Outcome",
        required=False,
        max_length=100,
        widget=forms.TextInput(attrs={"list": "activity-outcomes"}),
    )
    at = forms.DateTimeField(
        label="When", required=False, widget=LocalDateTimeInput, help_text="Empty: now."
    )
    duration_minutes = forms.IntegerField(
        label="Minutes (calls, meetings)", required=False, min_value=0, max_value=MAX_DURATION
    )
    note = forms.CharField(
        label="Note",
        required=False,
        max_length=MAX_NOTE,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    follow_up = forms.CharField(
        label="Follow-up task",
        required=False,
        max_length=200,
        help_text="Optional: what to do next.",
    )
    follow_up_due = forms.DateTimeField(
        label="Follow-up due", required=False, widget=LocalDateTimeInput
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "id_activity_%s")
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)

    def clean(self):
        data = super().clean()
        if data.get("follow_up") and not data.get("follow_up_due"):
            self.add_error("follow_up_due", "Say when the follow-up is due.")
        return data


class TaskForm(forms.Form):
    title = forms.CharField(label="Task", max_length=200)
    due_at = forms.DateTimeField(label="Due", widget=LocalDateTimeInput)
    owner = forms.ChoiceField(label="For", required=False)

    def __init__(self, *args, manager: bool = False, **kwargs):
        kwargs.setdefault("auto_id", "id_task_%s")
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        if manager:
            self.fields["owner"].choices = [("", "Me")] + [
                (user.username, user.username) for user in lead_owner_candidates()
            ]
        else:
            del self.fields["owner"]
        if not self.is_bound:
            tomorrow = timezone.localtime() + dt.timedelta(days=1)
            self.initial.setdefault("due_at", tomorrow.replace(hour=9, minute=0, second=0))


class LeadEditForm(forms.Form):
    """The lead's own fields; the same validation as PATCH /api/leads/{id}/ follows in the
    service."""

    email = forms.EmailField(label="E-mail", required=False, max_length=254)
    first_name = forms.CharField(label="First name", required=False, max_length=150)
    last_name = forms.CharField(label="Last name", required=False, max_length=150)
    company = forms.CharField(label="Company", required=False, max_length=255)
    title = forms.CharField(label="Title", required=False, max_length=255)
    phone = forms.CharField(label="Phone", required=False, max_length=64)
    country = forms.CharField(label="Country", required=False, max_length=100)
    city = forms.CharField(label="City", required=False, max_length=100)
    industry = forms.CharField(label="Industry", required=False, max_length=150)
    company_size = forms.IntegerField(
        label="Company size", required=False, min_value=0, max_value=10_000_000
    )
    website = forms.CharField(label="Website", required=False, max_length=255)
    source = forms.CharField(label="Source", required=False, max_length=150)
    do_not_email = forms.BooleanField(label="Do not e-mail", required=False)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "id_edit_%s")
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)

    @classmethod
    def for_lead(cls, lead):
        return cls(initial={name: getattr(lead, name) for name in cls.base_fields})

    def changes(self, lead) -> dict:
        """Only what differs from the lead: an untouched field is not rewritten, and a post
        that leaves a field out (not the page's whole form) does not blank it."""
        changed = {}
        whole_form = self.data.get("whole_form") == "1"
        for name, value in self.cleaned_data.items():
            if name not in self.data and not whole_form:
                continue
            if name == "email":
                value = value or None
            if value != getattr(lead, name):
                changed[name] = value
        return changed
