"""The /api/funnel/ query and answer."""

import datetime as dt

from rest_framework import serializers

# The dates a report may name: a funnel's history starts after 1900 and the calendar arithmetic
# of weeks and months (the trend charts, whole-month rollups) needs room past the end, so a
# date at the calendar's ends (0001-01-01, 9999-12-31) is refused with a clear error, never a
# 500. Leave a date out for an open range.
EARLIEST = dt.date(1900, 1, 1)
LATEST = dt.date(2999, 12, 31)


def _in_range(day: dt.date) -> dt.date:
    if not EARLIEST <= day <= LATEST:
        raise serializers.ValidationError(
            f"Give a date from {EARLIEST.isoformat()} to {LATEST.isoformat()}"
            " (leave it out for an open range).",
            code="date_out_of_range",
        )
    return day


class FunnelQuerySerializer(serializers.Serializer):
    campaign = serializers.SlugField(required=False, max_length=100)
    source = serializers.CharField(required=False, max_length=150)
    owner = serializers.CharField(required=False, max_length=150)
    since = serializers.DateField(required=False, validators=[_in_range])
    until = serializers.DateField(required=False, validators=[_in_range])

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
    win_rate = serializers.FloatField(
        allow_null=True,
        help_text="Won over won plus lost, among the cohort's decided opportunities.",
    )
    won_deals = serializers.IntegerField(help_text="The cohort's opportunities won.")
    lost_deals = serializers.IntegerField(
        help_text="The cohort's opportunities lost (opportunity -> nurture) and never won."
    )
    days_to = serializers.DictField(child=serializers.FloatField(allow_null=True))
    as_of = serializers.DateTimeField(help_text="The time these counts are exact for.")
    pending = serializers.IntegerField(help_text="Changes not yet counted; 0 when exact.")
