"""Serializers of activities and tasks (DESIGN.md, "Activities and tasks"): they only validate
and shape; `funnel.activities` decides."""

from rest_framework import serializers

from .activities import MAX_DURATION, MAX_NOTE
from .models import Activity


class _Strict(serializers.Serializer):
    """Unknown fields are an error, not silently dropped."""

    def validate(self, attrs):
        if isinstance(self.initial_data, dict):
            unknown = set(self.initial_data) - set(self.fields)
            if unknown:
                raise serializers.ValidationError(
                    {name: ["Not a field of this request."] for name in sorted(unknown)}
                )
        return attrs


class ActivitySerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    lead = serializers.IntegerField(source="lead_id", read_only=True)
    kind = serializers.CharField(read_only=True)
    outcome = serializers.CharField(read_only=True)
    at = serializers.DateTimeField(read_only=True)
    duration_minutes = serializers.IntegerField(read_only=True, allow_null=True)
    note = serializers.CharField(read_only=True)
    actor = serializers.CharField(source="actor_label", read_only=True)


class ActivityRequestSerializer(_Strict):
    kind = serializers.ChoiceField(choices=Activity.Kind.choices)
    outcome = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=100
    )
    at = serializers.DateTimeField(required=False, allow_null=True)
    duration_minutes = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=MAX_DURATION
    )
    note = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=MAX_NOTE
    )


class TaskSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    lead = serializers.IntegerField(source="lead_id", read_only=True)
    lead_name = serializers.CharField(source="lead.display_name", read_only=True)
    title = serializers.CharField(read_only=True)
    due_at = serializers.DateTimeField(read_only=True)
    owner = serializers.CharField(source="owner.username", read_only=True, allow_null=True)
    created_by = serializers.CharField(
        source="created_by.username", read_only=True, allow_null=True
    )
    created_at = serializers.DateTimeField(read_only=True)
    done = serializers.BooleanField(read_only=True)
    done_at = serializers.DateTimeField(read_only=True, allow_null=True)
    done_by = serializers.CharField(source="done_by.username", read_only=True, allow_null=True)


class TaskRequestSerializer(_Strict):
    lead = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    title = serializers.CharField(max_length=200)
    due_at = serializers.DateTimeField()
    owner = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=150)


class TaskUpdateSerializer(_Strict):
    done = serializers.BooleanField(required=False)
    title = serializers.CharField(required=False, max_length=200)
    due_at = serializers.DateTimeField(required=False)

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if not attrs:
            raise serializers.ValidationError({"done": ["Send done, title or due_at."]})
        return attrs


class TaskQuerySerializer(serializers.Serializer):
    owner = serializers.CharField(required=False, max_length=150, help_text="me or a username")
    lead = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    due = serializers.ChoiceField(choices=["overdue", "today"], required=False)
    done = serializers.BooleanField(required=False, allow_null=True, default=None)
    page = serializers.IntegerField(required=False, min_value=1)
    page_size = serializers.IntegerField(required=False, min_value=1)
