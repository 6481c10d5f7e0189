from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from config.parsers import json_loads
from leads.stages import Stage

from .models import ImportJob, ImportRowError


class JSONObjectField(serializers.CharField):
    """A JSON object sent as a multipart form field."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            return data
        text = super().to_internal_value(data)
        try:
            value = json_loads(text)
        except ValueError:
            raise serializers.ValidationError("Send a JSON object.") from None
        if not isinstance(value, dict):
            raise serializers.ValidationError("Send a JSON object.")
        return value


class ImportCreateSerializer(serializers.Serializer):
    file = serializers.FileField()
    campaign = serializers.SlugField(required=False, allow_blank=True)
    mapping = JSONObjectField(required=False, help_text='{"field": "column header"}')
    stage = serializers.ChoiceField(choices=Stage.choices, default=Stage.SUSPECT)
    stage_values = JSONObjectField(required=False, help_text='{"value in the file": "stage"}')
    dayfirst = serializers.BooleanField(required=False, allow_null=True, default=None)
    on_duplicate = serializers.ChoiceField(
        choices=ImportJob.OnDuplicate.choices, default=ImportJob.OnDuplicate.UPDATE
    )
    assign_open_mqls = serializers.BooleanField(
        default=False, help_text="Hand the file's open, unassigned MQLs round robin."
    )
    enrol_nurture = serializers.BooleanField(
        default=False,
        help_text="Enrol the file's leads that ended in nurture in their programme.",
    )
    deal_owners = JSONObjectField(
        required=False,
        help_text='{"owner name in the file": "username" or ""}: for names matching no user '
        "(left unassigned when not given).",
    )


class RowErrorSerializer(serializers.ModelSerializer):
    class Meta:
        model = ImportRowError
        fields = ("line", "column", "message")


class ImportJobSerializer(serializers.ModelSerializer):
    # Both may be empty: an import needs no campaign, and a deleted user leaves none.
    campaign = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    created_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    errors = serializers.SerializerMethodField()
    error_report_url = serializers.SerializerMethodField()

    class Meta:
        model = ImportJob
        fields = (
            "id",
            "status",
            "file_name",
            "campaign",
            "created_by",
            "created_at",
            "finished_at",
            "total",
            "processed",
            "created",
            "updated",
            "skipped",
            "merged",
            "failed",
            "failure",
            "assign_open_mqls",
            "enrol_nurture",
            "errors",
            "error_report_url",
        )
        read_only_fields = fields

    @extend_schema_field(RowErrorSerializer(many=True))
    def get_errors(self, job: ImportJob):
        return RowErrorSerializer(job.row_errors.all()[:100], many=True).data

    def get_error_report_url(self, job: ImportJob) -> str | None:
        if not job.failed:
            return None
        # The API's own route, so a token client can follow it (the page's needs a session).
        url = reverse("api-import-errors", args=[job.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request else url
