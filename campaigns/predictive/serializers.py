from rest_framework import serializers

from .models import Outcome


class LiftSerializer(serializers.Serializer):
    decile = serializers.IntegerField()
    leads = serializers.IntegerField()
    rate = serializers.FloatField()
    lift = serializers.FloatField()


class CalibrationSerializer(serializers.Serializer):
    predicted = serializers.FloatField()
    observed = serializers.FloatField()
    leads = serializers.IntegerField()


class LeakSerializer(serializers.Serializer):
    feature = serializers.CharField()
    auc = serializers.FloatField(help_text="the held-out ROC AUC of this feature alone")


class WindowSerializer(serializers.Serializer):
    start = serializers.DateTimeField(allow_null=True)
    end = serializers.DateTimeField(allow_null=True)


class ModelStatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ready", "training", "too_few_outcomes"])
    version = serializers.IntegerField(allow_null=True)
    trained_at = serializers.DateTimeField(allow_null=True)
    outcome = serializers.ChoiceField(choices=Outcome.choices)
    algorithm = serializers.CharField(allow_null=True)
    features = serializers.ListField(child=serializers.CharField())
    excluded = serializers.ListField(child=serializers.CharField())
    flagged_leaks = LeakSerializer(many=True)
    auc = serializers.FloatField(allow_null=True, help_text="held-out ROC AUC")
    ece = serializers.FloatField(allow_null=True, help_text="expected calibration error")
    lift = LiftSerializer(many=True)
    calibration = CalibrationSerializer(many=True)
    window = WindowSerializer()
    message = serializers.CharField(allow_blank=True)


class TrainRequestSerializer(serializers.Serializer):
    excluded = serializers.ListField(
        child=serializers.CharField(max_length=200), required=False, max_length=500
    )
    outcome = serializers.ChoiceField(choices=Outcome.choices, required=False)

    def validate(self, attrs):
        unknown = set(self.initial_data) - set(self.fields)
        if unknown:
            raise serializers.ValidationError(
                {name: ["Not a training option."] for name in sorted(unknown)}
            )
        return attrs
