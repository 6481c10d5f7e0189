"""The funnel part of the public API: GET /api/funnel/ (DESIGN.md section 3)."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import HasRole

from .selectors import freshness, funnel_snapshot
from .serializers import FunnelQuerySerializer, FunnelSerializer


class FunnelView(APIView):
    permission_classes = [HasRole]

    @extend_schema(parameters=[FunnelQuerySerializer], responses=FunnelSerializer)
    def get(self, request):
        query = FunnelQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        # Freshness first: a change counted between the two reads makes `pending` an
        # overstatement, never an understatement.
        fresh = freshness()
        numbers = funnel_snapshot(**query.validated_data, user=request.user)
        return Response({**numbers, **fresh})
