from django.contrib.auth import get_user_model
from rest_framework import serializers

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


class CaptureRequestSerializer(serializers.Serializer):
    """The fields a capture accepts (for the schema; the capture form validates)."""

    email = serializers.EmailField()
    first_name = serializers.CharField(required=False)
    last_name = serializers.CharField(required=False)
    company = serializers.CharField(required=False)
    title = serializers.CharField(required=False)
    phone = serializers.CharField(required=False)
    country = serializers.CharField(required=False)
    city = serializers.CharField(required=False)
    industry = serializers.CharField(required=False)
    company_size = serializers.IntegerField(required=False)
    website = serializers.CharField(required=False)
    consent = serializers.BooleanField(required=False)
    utm_source = serializers.CharField(required=False)
    utm_medium = serializers.CharField(required=False)
    utm_campaign = serializers.CharField(required=False)
    utm_term = serializers.CharField(required=False)
    utm_content = serializers.CharField(required=False)
    gclid = serializers.CharField(required=False)
    page_url = serializers.CharField(required=False, help_text="The page the form was on.")
    referrer = serializers.CharField(
        required=False, help_text="The page the visitor came from to the form's page."
    )


class CaptureResponseSerializer(serializers.Serializer):
    lead = serializers.IntegerField()
    created = serializers.BooleanField()
    stage_before = serializers.CharField()
    stage = serializers.CharField()
    submission = serializers.IntegerField()
