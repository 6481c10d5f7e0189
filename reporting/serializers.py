"""The /api/funnel/ query and answer."""

from rest_framework import serializers


class FunnelQuerySerializer(serializers.Serializer):
    campaign = serializers.SlugField(required=False, max_length=100)
    source = serializers.CharField(required=False, max_length=150)
    owner = serializers.CharField(required=False, max_length=150)
    since = serializers.DateField(required=False)
    until = serializers.DateField(required=False)

    def validate(self, attrs):
        if attrs.get("since") and attrs.get("until") and attrs["since"] > attrs["until"]:
            raise serializers.ValidationError({"until": ["until comes before since."]})
        return attrs


class FunnelSerializer(serializers.Serializer):
    tofu = serializers.IntegerField()
    mofu = serializers.IntegerField()
    bofu = serializers.IntegerField()
    won = serializers.IntegerField()
    nurture = serializers.IntegerField()
    closed = serializers.IntegerField()
    stages = serializers.DictField(child=serializers.IntegerField())
    reached = serializers.DictField(child=serializers.IntegerField())
    conversion = serializers.DictField(child=serializers.FloatField(allow_null=True))
    days_to = serializers.DictField(child=serializers.FloatField(allow_null=True))
