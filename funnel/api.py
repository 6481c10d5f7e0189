"""The leads, transitions, reasons and funnel parts of the public API (DESIGN.md section 3)."""

from django.db import transaction
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import HasRole
from config.schema import error
from leads.filters import LeadFilter
from leads.models import Lead
from leads.roles import SALES_REP, roles_of
from leads.selectors import lead_for_user
from leads.services import lead_erase, lead_update

from . import services
from .lead_edits import lead_edit
from .models import ReasonCode
from .queue import leads_decide
from .selectors import lead_history
from .serializers import (
    BulkTransitionRequestSerializer,
    BulkTransitionResponseSerializer,
    LeadDetailSerializer,
    LeadSerializer,
    LeadWriteSerializer,
    ReasonSerializer,
    TransitionRequestSerializer,
    TransitionSerializer,
)

VERB_FIELDS = (
    "budget",
    "authority",
    "need",
    "timeline",
    "amount",
    "expected_close",
    "pipeline_stage",
    "currency",
)


def _validated(serializer_class, data, **kwargs) -> dict:
    if not isinstance(data, dict):
        raise ValidationError({"non_field_errors": ["Send a JSON object."]})
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class LeadListCreate(generics.ListAPIView):
    permission_classes = [HasRole]
    serializer_class = LeadSerializer
    filterset_class = LeadFilter
    queryset = Lead.objects.select_related("owner").order_by("-created_at", "-id")

    @extend_schema(
        request=LeadWriteSerializer,
        responses={201: LeadDetailSerializer, 409: OpenApiResponse(description="Duplicate lead")},
    )
    def post(self, request):
        data = dict(_validated(LeadWriteSerializer, request.data))
        data.pop("consent_reason", None)  # a new lead's consent is what it is sent with
        stage = data.pop("stage", "suspect")
        owner = data.pop("owner", None)
        if owner is None and roles_of(request.user) == {SALES_REP}:
            # A rep's own find is theirs to work (and to edit: see leads.selectors.can_edit).
            data["owner"] = request.user
        with transaction.atomic():
            lead = services.lead_create(actor=request.user, fields=data, stage=stage)
            if owner is not None:
                lead = lead_update(lead=lead, actor=request.user, changes={"owner": owner})
        return Response(LeadDetailSerializer(lead).data, status=status.HTTP_201_CREATED)


class LeadDetail(APIView):
    permission_classes = [HasRole]

    @extend_schema(responses=LeadDetailSerializer)
    def get(self, request, pk):
        return Response(LeadDetailSerializer(lead_for_user(request.user, pk)).data)

    @extend_schema(request=LeadWriteSerializer, responses=LeadDetailSerializer)
    def patch(self, request, pk):
        lead = lead_for_user(request.user, pk)
        changes = dict(_validated(LeadWriteSerializer, request.data, partial=True))
        reason = changes.pop("consent_reason", "")
        # The lead page's edit form goes through the same service: same rule, same log.
        lead = lead_edit(
            lead_id=lead.pk, actor=request.user, changes=changes, consent_reason=reason
        )
        return Response(LeadDetailSerializer(lead).data)

    @extend_schema(responses={204: None})
    def delete(self, request, pk):
        """GDPR erasure: the lead's personal data goes everywhere; it stays counted."""
        lead = lead_for_user(request.user, pk)
        lead_erase(lead_id=lead.pk, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class LeadTransitions(APIView):
    permission_classes = [HasRole]

    @extend_schema(responses=TransitionSerializer(many=True))
    def get(self, request, pk):
        lead = lead_for_user(request.user, pk)
        return Response(TransitionSerializer(lead_history(lead), many=True).data)

    @extend_schema(
        request=TransitionRequestSerializer,
        responses={
            201: TransitionSerializer,
            409: error("Not allowed from the lead's stage, or the lead moved on since `from`."),
        },
    )
    def post(self, request, pk):
        lead = lead_for_user(request.user, pk)
        data = _validated(TransitionRequestSerializer, request.data)
        row = services.transition_lead(
            lead_id=lead.pk,
            to=data["to"],
            actor=request.user,
            expected_from=data.get("from"),
            reason=data.get("reason"),
            note=data.get("note") or "",
            fields={name: data[name] for name in VERB_FIELDS if name in data},
        )
        return Response(TransitionSerializer(row).data, status=status.HTTP_201_CREATED)


class ReasonList(generics.ListAPIView):
    permission_classes = [HasRole]
    serializer_class = ReasonSerializer
    pagination_class = None
    queryset = ReasonCode.objects.filter(is_active=True)
    filterset_class = None


class BulkTransitions(APIView):
    """The same decision on many leads: each lead's result, the allowed ones done."""

    permission_classes = [HasRole]

    @extend_schema(
        request=BulkTransitionRequestSerializer,
        responses={200: BulkTransitionResponseSerializer},
    )
    def post(self, request):
        data = _validated(BulkTransitionRequestSerializer, request.data)
        outcome = leads_decide(
            lead_ids=data["leads"],
            to=data["to"],
            actor=request.user,
            expected_from=data.get("from"),
            reason=data.get("reason"),
            note=data.get("note") or "",
            fields={name: data[name] for name in VERB_FIELDS if name in data},
        )
        results = []
        for item in outcome.results:
            if "row" in item:
                results.append(
                    {
                        "lead": item["lead"],
                        "status": 201,
                        "transition": TransitionSerializer(item["row"]).data,
                    }
                )
            else:
                result = {key: item[key] for key in ("lead", "status", "code", "detail")}
                if item["errors"]:
                    result["errors"] = item["errors"]
                results.append(result)
        return Response(
            {"done": len(outcome.done), "refused": len(outcome.refused), "results": results}
        )
