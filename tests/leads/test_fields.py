"""The one lead-field spec (leads.fields) and the lists derived from it: the same fields,
labels, kinds and lengths the places that wrote them out by hand had."""

from django.db import models

from campaigns.capture import ATTRIBUTION, CAPTURABLE, CaptureForm
from campaigns.imports.mapping import SYNONYMS, TARGETS, auto_mapping
from campaigns.imports.rows import _MAX_LENGTH
from campaigns.models import Campaign, CaptureSubmission
from campaigns.nurture.mailing import LEAD_FIELDS as MAIL_MERGE_FIELDS
from campaigns.segments import FIELDS as SEGMENT_FIELDS
from funnel.imports import BATCH_COLUMNS, FILL_FIELDS
from leads import fields
from leads.models import Lead
from leads.services import EDITABLE_FIELDS, ERASED_VALUES, TEXT_FIELDS

MODEL_KIND = {
    models.EmailField: fields.EMAIL,
    models.PositiveIntegerField: fields.INTEGER,
    models.IntegerField: fields.INTEGER,
    models.BooleanField: fields.BOOLEAN,
    models.JSONField: fields.JSON,
    models.ForeignKey: fields.USER,
    models.DateTimeField: fields.DATETIME,
}


def test_it_agrees_with_the_lead_model_on_every_field():
    for spec in fields.LEAD_FIELDS:
        column = Lead._meta.get_field(spec.name)
        assert spec.max_length == (column.max_length if spec.kind != fields.INTEGER else None)
        if spec.name == "stage":
            assert column.choices and spec.kind == fields.CHOICE
        elif spec.kind in (fields.TEXT, fields.IDENTIFIER):
            assert type(column) is models.CharField, spec.name
        else:
            assert MODEL_KIND[type(column)] == spec.kind, spec.name
    written_elsewhere = {"id", "stage_changed_at", "updated_at"}
    model_fields = {f.name for f in Lead._meta.concrete_fields} - written_elsewhere
    assert model_fields == set(fields.FIELD)


def test_it_gives_the_services_the_fields_they_had():
    assert TEXT_FIELDS == (
        "first_name",
        "last_name",
        "company",
        "title",
        "phone",
        "country",
        "city",
        "industry",
        "website",
        "source",
    )
    assert EDITABLE_FIELDS == (
        "email",
        "external_id",
        "first_name",
        "last_name",
        "company",
        "title",
        "phone",
        "country",
        "city",
        "industry",
        "company_size",
        "website",
        "source",
        "do_not_email",
        "attributes",
    )
    assert set(FILL_FIELDS) == {*TEXT_FIELDS, "company_size", "do_not_email", "attributes"}
    assert ERASED_VALUES == {
        "email": None,
        "first_name": "",
        "last_name": "",
        "company": "",
        "title": "",
        "phone": "",
        "city": "",
        "website": "",
        "attributes": {},
    }


def test_it_gives_capture_the_fields_and_labels_it_had():
    assert CAPTURABLE == {
        "first_name": "First name",
        "last_name": "Last name",
        "company": "Company",
        "title": "Job title",
        "phone": "Phone",
        "country": "Country",
        "city": "City",
        "industry": "Industry",
        "company_size": "Company size",
        "website": "Website",
    }
    assert ATTRIBUTION == (
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "utm_term",
        "utm_content",
        "gclid",
    )
    form = CaptureForm(campaign=Campaign(slug="c"), field_names=["company_size", "phone"])
    assert type(form.fields["company_size"]).__name__ == "IntegerField"
    assert form.fields["phone"].max_length == 64


def test_it_gives_segments_and_mail_merge_the_fields_they_had():
    assert SEGMENT_FIELDS == {
        "email": "text",
        "first_name": "text",
        "last_name": "text",
        "company": "text",
        "title": "text",
        "phone": "text",
        "country": "text",
        "city": "text",
        "industry": "text",
        "website": "text",
        "source": "text",
        "company_size": "number",
        "score": "number",
        "do_not_email": "boolean",
        "stage": "choice",
        "owner": "owner",
        "created_at": "date",
    }
    assert list(SEGMENT_FIELDS)[9:13] == ["website", "source", "company_size", "score"]
    assert set(MAIL_MERGE_FIELDS) == {
        "first_name",
        "last_name",
        "email",
        "company",
        "title",
        "country",
        "city",
        "industry",
    }


def test_it_gives_the_import_mapping_its_targets_labels_and_synonyms():
    assert TARGETS[:14] == (
        ("email", "E-mail"),
        ("external_id", "External id"),
        ("first_name", "First name"),
        ("last_name", "Last name"),
        ("company", "Company"),
        ("title", "Job title"),
        ("phone", "Phone"),
        ("country", "Country"),
        ("city", "City"),
        ("industry", "Industry"),
        ("company_size", "Company size"),
        ("website", "Website"),
        ("source", "Source"),
        ("do_not_email", "Do not e-mail (yes/no)"),
    )
    assert [t for t, _ in TARGETS[14:20]] == list(fields.TOUCH_IMPORT_FIELDS)
    assert SYNONYMS["company_size"] == (
        "company size",
        "employees",
        "number of employees",
        "no of employees",
        "headcount",
    )
    assert auto_mapping(["E-mail Address", "Lead Source", "Employees"]) == {
        "E-mail Address": "email",
        "Lead Source": "source",
        "Employees": "company_size",
    }
    assert _MAX_LENGTH["phone"] == 64 and _MAX_LENGTH["gclid"] == 255
    assert "stage" not in _MAX_LENGTH  # a stage column's values are mapped, not copied
    batch = dict(BATCH_COLUMNS)
    assert all(batch[name] == "text" for name in fields.TOUCH_IMPORT_FIELDS)


def test_touch_fields_fit_the_capture_submissions_columns():
    for name in fields.TOUCH_IMPORT_FIELDS:
        assert fields.TOUCH[name].max_length == CaptureSubmission._meta.get_field(name).max_length
    assert fields.touch_clean({"utm_source": " g\x00oogle ", "gclid": "", "other": "x"}) == {
        "utm_source": "google"
    }
