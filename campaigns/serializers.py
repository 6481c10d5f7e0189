from rest_framework import serializers

from .models import Campaign, Channel


class CampaignSerializer(serializers.ModelSerializer):
    slug = serializers.SlugField(max_length=100, required=False, validators=[])
    channel = serializers.ChoiceField(choices=Channel.choices)
    members = serializers.IntegerField(read_only=True, required=False)

    class Meta:
        model = Campaign
        fields = ("id", "name", "slug", "channel", "created_at", "members")
        read_only_fields = ("id", "created_at", "members")
