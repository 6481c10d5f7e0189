from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import HasRole, error_body
from config.schema import error
from leads.roles import MANAGER, MARKETER

from .selectors import training_under_way
from .serializers import ModelStatusSerializer, TrainRequestSerializer
from .services import model_status, scoring_model_request


class ScoringModelView(APIView):
    """The predictive model: every role reads it; marketers and managers train one."""

    permission_classes = [HasRole]
    write_roles = (MARKETER, MANAGER)

    @extend_schema(responses={200: ModelStatusSerializer})
    def get(self, request):
        return Response(ModelStatusSerializer(model_status()).data)

    @extend_schema(
        request=TrainRequestSerializer,
        responses={
            202: ModelStatusSerializer,
            409: error("A training is under way; wait for it to finish."),
        },
    )
    def post(self, request):
        serializer = TrainRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        running = training_under_way()
        if running is not None:
            return Response(
                error_body(
                    f"Model v{running.version} is training; wait for it to finish.", "conflict"
                ),
                status=status.HTTP_409_CONFLICT,
            )
        scoring_model_request(
            user=request.user,
            excluded=serializer.validated_data.get("excluded"),
            outcome=serializer.validated_data.get("outcome"),
        )
        return Response(ModelStatusSerializer(model_status()).data, status=status.HTTP_202_ACCEPTED)
