from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils.text import slugify
from rest_framework import generics, status
from rest_framework.response import Response

from config.api import HasRole, error_body
from leads.roles import MANAGER, MARKETER

from .models import Campaign
from .serializers import CampaignSerializer
from .services import campaign_create


class CampaignListCreate(generics.ListCreateAPIView):
    permission_classes = [HasRole]
    write_roles = (MARKETER, MANAGER)
    serializer_class = CampaignSerializer
    queryset = Campaign.objects.annotate(members=Count("memberships")).order_by("name")
    filterset_fields = ("channel",)

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        slug = slugify(data.get("slug") or data["name"])[:100]
        if not slug:
            return Response(
                error_body("The name gives no usable slug; send a slug.", "invalid"),
                status=status.HTTP_400_BAD_REQUEST,
            )
        try:
            with transaction.atomic():
                campaign = campaign_create(
                    name=data["name"], slug=slug, channel=data["channel"], created_by=request.user
                )
        except IntegrityError:
            existing = Campaign.objects.filter(slug=slug).first()
            return Response(
                error_body(
                    f"A campaign with the slug {slug!r} exists.",
                    "duplicate",
                    existing_id=existing.pk if existing else None,
                ),
                status=status.HTTP_409_CONFLICT,
            )
        campaign.members = 0
        return Response(CampaignSerializer(campaign).data, status=status.HTTP_201_CREATED)
