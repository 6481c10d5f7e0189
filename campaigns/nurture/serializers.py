from rest_framework import serializers

from funnel.models import ReasonCode

from .mailing import template_problem
from .models import ContentAsset, Enrollment, Exit, Programme, Step


class StatsSerializer(serializers.Serializer):
    enrolled = serializers.IntegerField()
    sent = serializers.IntegerField()
    opened = serializers.IntegerField()
    clicked = serializers.IntegerField()
    recycled = serializers.IntegerField()
    unsubscribed = serializers.IntegerField()


class StepSerializer(serializers.ModelSerializer):
    kind = serializers.ChoiceField(choices=Step.Kind.choices)
    asset = serializers.PrimaryKeyRelatedField(
        queryset=ContentAsset.objects.all(), required=False, allow_null=True
    )
    audience = serializers.CharField(
        source="audience_name", max_length=150, required=False, allow_blank=True
    )
    wait_days = serializers.IntegerField(min_value=0, max_value=3650, required=False)

    class Meta:
        model = Step
        fields = ("id", "position", "kind", "subject", "body", "asset", "wait_days", "audience")
        read_only_fields = ("id", "position")

    def to_representation(self, instance):
        # By hand: the audience is written by name and read back as its name.
        return dict(
            id=instance.pk,
            position=instance.position,
            kind=instance.kind,
            subject=instance.subject,
            body=instance.body,
            asset=instance.asset_id,
            wait_days=instance.wait_days,
            audience=instance.audience.name if instance.audience_id else "",
        )

    def validate(self, attrs):
        kind = attrs.get("kind")
        if kind == Step.Kind.EMAIL:
            for field in ("subject", "body"):
                value = attrs.get(field, "")
                if not value.strip():
                    raise serializers.ValidationError({field: "An e-mail step needs this."})
                if problem := template_problem(value):
                    raise serializers.ValidationError({field: f"Does not compile: {problem}"})
        elif kind == Step.Kind.WAIT and not attrs.get("wait_days"):
            raise serializers.ValidationError({"wait_days": "Wait at least one day."})
        elif kind == Step.Kind.AUDIENCE and not attrs.get("audience_name", "").strip():
            raise serializers.ValidationError({"audience": "Name the audience."})
        return attrs


class ProgrammeSerializer(serializers.ModelSerializer):
    exits = serializers.ListField(child=serializers.ChoiceField(choices=Exit.choices), min_length=1)
    reasons = serializers.ListField(
        child=serializers.SlugField(max_length=64), required=False, default=list
    )
    steps = StepSerializer(many=True, required=False)
    stats = serializers.SerializerMethodField()

    class Meta:
        model = Programme
        fields = (
            "id",
            "name",
            "exits",
            "reasons",
            "priority",
            "is_active",
            "created_at",
            "steps",
            "stats",
        )
        read_only_fields = ("id", "created_at", "stats")

    def validate_reasons(self, value):
        known = set(ReasonCode.objects.values_list("code", flat=True))
        unknown = sorted(set(value) - known)
        if unknown:
            raise serializers.ValidationError(f"Unknown reason codes: {', '.join(unknown)}")
        return value

    def get_stats(self, obj) -> StatsSerializer:
        stats = self.context.get("stats", {}).get(obj.pk)
        return StatsSerializer(stats).data if stats else None

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["steps"] = [StepSerializer().to_representation(step) for step in instance.steps.all()]
        return data


class EnrollmentSerializer(serializers.ModelSerializer):
    lead = serializers.IntegerField(source="lead_id", read_only=True)
    programme = serializers.IntegerField(source="programme_id", read_only=True)
    messages_sent = serializers.IntegerField(read_only=True)

    class Meta:
        model = Enrollment
        fields = (
            "id",
            "lead",
            "programme",
            "status",
            "from_stage",
            "reason",
            "enrolled_at",
            "next_due_at",
            "ended_at",
            "messages_sent",
        )
        read_only_fields = fields
