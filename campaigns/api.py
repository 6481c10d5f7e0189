import hmac

from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils.text import slugify
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.parsers import FormParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import HasRole, error_body
from config.parsers import JSONParser
from config.schema import ErrorSerializer, error
from leads.roles import MANAGER, MARKETER

from .capture import (
    CAPTURABLE,
    CaptureForm,
    Refused,
    attribution_from,
    body_size_check,
    campaign_open_check,
    capture_submit,
    capture_validate,
)
from .models import Campaign, CaptureSubmission
from .serializers import (
    CampaignSerializer,
    CaptureRequestSerializer,
    CaptureResponseSerializer,
)
from .services import CAMPAIGN_FIELDS, RESERVED_SLUGS, campaign_create


class CampaignListCreate(generics.ListCreateAPIView):
    permission_classes = [HasRole]
    write_roles = (MARKETER, MANAGER)
    serializer_class = CampaignSerializer
    queryset = (
        Campaign.objects.select_related("segment", "owner")
        .annotate(members=Count("memberships"))
        .order_by("name")
    )
    filterset_fields = ("channel",)

    @extend_schema(
        responses={201: CampaignSerializer, 409: error("A campaign with this slug exists.")}
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        slug = slugify(data.get("slug") or data["name"])[:100]
        if not slug or slug in RESERVED_SLUGS:
            return Response(
                error_body(
                    f"{slug or 'The name'!r} is not a usable slug; send another.", "invalid"
                ),
                status=status.HTTP_400_BAD_REQUEST,
            )
        try:
            with transaction.atomic():
                campaign = campaign_create(
                    name=data["name"],
                    slug=slug,
                    channel=data["channel"],
                    created_by=request.user,
                    fields={key: data[key] for key in CAMPAIGN_FIELDS if key in data},
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


def _token_of(request) -> str:
    return str(request.headers.get("X-Capture-Token") or request.query_params.get("token") or "")


def _refusal(refused: Refused) -> Response:
    body = error_body(refused.message, refused.code)
    if refused.errors:
        body["errors"] = refused.errors
    headers = {"Retry-After": str(refused.retry_after)} if refused.retry_after else None
    return Response(body, status=refused.status, headers=headers)


class CaptureView(APIView):
    """A form submission from another site or a form provider's webhook.

    Authenticated by the campaign's capture token (header `X-Capture-Token`, or `?token=`),
    not by a user, so it needs no session and no CSRF token.
    """

    authentication_classes = []
    permission_classes = [AllowAny]
    parser_classes = [JSONParser, FormParser]

    @extend_schema(
        operation_id="capture_submit",
        request=CaptureRequestSerializer,
        parameters=[
            OpenApiParameter("X-Capture-Token", str, OpenApiParameter.HEADER, required=False),
            OpenApiParameter("token", str, OpenApiParameter.QUERY, required=False),
        ],
        responses={
            200: CaptureResponseSerializer,
            201: CaptureResponseSerializer,
            400: OpenApiResponse(ErrorSerializer, description="bad fields, no consent, spam"),
            401: OpenApiResponse(ErrorSerializer, description="missing or wrong token"),
            404: OpenApiResponse(ErrorSerializer, description="no such published campaign"),
            410: OpenApiResponse(ErrorSerializer, description="the campaign has ended"),
            413: OpenApiResponse(ErrorSerializer, description="body too large"),
        },
    )
    def post(self, request, slug):
        campaign = Campaign.objects.filter(slug=slug).first()
        try:
            if campaign is None or not campaign.capture_published:
                raise Refused("There is no such campaign form.", status=404, code="not_found")
            token = _token_of(request)
            if not token or not hmac.compare_digest(
                token.encode(), campaign.capture_token.encode()
            ):
                raise Refused(
                    "A valid capture token for this campaign is required.",
                    status=401,
                    code="invalid_token",
                )
            campaign_open_check(campaign)
            body_size_check(request)
            data = request.data
            if not hasattr(data, "items"):
                raise Refused("Send the fields as a JSON object or a form.")
            nested = [str(key) for key, value in data.items() if isinstance(value, dict | list)]
            if nested:
                raise Refused(f"{nested[0]}: send a single value, not a list or an object.")
            plain = {
                str(key): value if isinstance(value, bool) else str(value)
                for key, value in data.items()
                if value is not None
            }
            form = CaptureForm(plain, campaign=campaign, field_names=list(CAPTURABLE))
            fields = capture_validate(form)
            captured = capture_submit(
                campaign=campaign,
                fields=fields,
                via=CaptureSubmission.Via.API,
                attribution=attribution_from(plain, request.query_params),
                referrer=str(plain.get("referrer") or plain.get("page_url", "")),
                landing_page=str(plain.get("page_url", "")),
            )
        except Refused as refused:
            return _refusal(refused)
        body = CaptureResponseSerializer(
            {
                "lead": captured.lead.pk,
                "created": captured.created,
                "stage_before": captured.stage_before,
                "stage": captured.stage_after,
                "submission": captured.submission.pk,
            }
        ).data
        return Response(body, status=201 if captured.created else 200)
