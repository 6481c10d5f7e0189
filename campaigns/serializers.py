from django.contrib.auth import get_user_model
from rest_framework import serializers

from leads.fields import FIELD, INTEGER, TOUCH_IMPORT_FIELDS

from .capture import CAPTURABLE
from .models import Campaign, Channel, Segment
from .services import CAMPAIGN_FIELDS


class CampaignSerializer(serializers.ModelSerializer):
    slug = serializers.SlugField(max_length=100, required=False, validators=[])
    channel = serializers.ChoiceField(choices=Channel.choices)
    members = serializers.IntegerField(read_only=True, required=False)
    segment = serializers.SlugRelatedField(
        slug_field="slug", queryset=Segment.objects.all(), required=False, allow_null=True
    )
    owner = serializers.SlugRelatedField(
        slug_field="username",
        queryset=get_user_model().objects.filter(is_active=True),
        required=False,
        allow_null=True,
    )
    capture_fields = serializers.ListField(
        child=serializers.ChoiceField(choices=list(CAPTURABLE)), required=False
    )
    budget = serializers.DecimalField(
        max_digits=14, decimal_places=2, min_value=0, required=False, allow_null=True
    )
    landing_url = serializers.SerializerMethodField()

    class Meta:
        model = Campaign
        fields = (
            "id",
            "name",
            "slug",
            "channel",
            "created_at",
            "members",
            *CAMPAIGN_FIELDS,
            "landing_url",
        )
        read_only_fields = ("id", "created_at", "members", "landing_url")

    def get_landing_url(self, campaign: Campaign) -> str | None:
        return f"/f/{campaign.slug}/" if campaign.capture_published else None

    def validate(self, attrs):
        starts, ends = attrs.get("starts_on"), attrs.get("ends_on")
        if starts and ends and ends < starts:
            raise serializers.ValidationError(
                {"ends_on": "The campaign cannot end before it starts."}
            )
        return attrs


def _capture_request_fields() -> dict:
    """E-mail, the capturable lead fields (leads.fields), consent, the tracking parameters,
    and the page's URL and referrer."""
    fields = {"email": serializers.EmailField()}
    for name in CAPTURABLE:
        integer = FIELD[name].kind == INTEGER
        fields[name] = (serializers.IntegerField if integer else serializers.CharField)(
            required=False
        )
    fields["consent"] = serializers.BooleanField(required=False)
    for name in TOUCH_IMPORT_FIELDS:
        fields[name] = serializers.CharField(required=False)
    fields["page_url"] = serializers.CharField(
        required=False, help_text="The page the form was on."
    )
    fields["referrer"] = serializers.CharField(
        required=False, help_text="The page the visitor came from to the form's page."
    )
    return fields


CaptureRequestSerializer = type(
    "CaptureRequestSerializer",
    (serializers.Serializer,),
    {
        "__module__": __name__,
        "__doc__": "The fields a capture accepts (for the schema; the capture form validates).",
        **_capture_request_fields(),
    },
)


class CaptureResponseSerializer(serializers.Serializer):
    lead = serializers.IntegerField()
    created = serializers.BooleanField()
    stage_before = serializers.CharField()
    stage = serializers.CharField()
    submission = serializers.IntegerField()
