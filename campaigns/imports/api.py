from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, generics, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns.models import Campaign
from config.api import HasRole, error_body
from leads.roles import MANAGER, MARKETER

from . import services
from .models import ImportJob
from .serializers import ImportCreateSerializer, ImportJobSerializer
from .views import _over_size, error_report_response


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The file is too large."
    default_code = "too_large"


class ImportListCreate(generics.ListAPIView):
    """`POST /api/imports/` (multipart): upload a CSV and queue its import; 202 with the job."""

    permission_classes = [HasRole]
    read_roles = write_roles = (MARKETER, MANAGER)
    parser_classes = [MultiPartParser, FormParser]
    serializer_class = ImportJobSerializer
    queryset = ImportJob.objects.select_related("campaign", "created_by").order_by("-created_at")

    def initial(self, request, *args, **kwargs):
        if request.method == "POST" and _over_size(request):
            # Refused from the headers, before the body is read (session authentication's
            # CSRF check would read it).
            raise PayloadTooLarge(services.too_large_message())
        super().initial(request, *args, **kwargs)

    @extend_schema(request=ImportCreateSerializer, responses={202: ImportJobSerializer})
    def post(self, request, *args, **kwargs):
        serializer = ImportCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        campaign = None
        if data.get("campaign"):
            campaign = Campaign.objects.filter(slug=data["campaign"]).first()
            if campaign is None:
                return Response(
                    error_body(f"No campaign with the slug {data['campaign']!r}.", "invalid"),
                    status=status.HTTP_400_BAD_REQUEST,
                )
        upload = data["file"]
        try:
            job = services.import_job_create(
                user=request.user,
                upload=upload,
                file_name=upload.name,
                campaign=campaign,
                default_stage=data["stage"],
                mapping=data.get("mapping"),
                stage_values=data.get("stage_values"),
                dayfirst=data.get("dayfirst"),
                on_duplicate=data["on_duplicate"],
                assign_open_mqls=data["assign_open_mqls"],
                enrol_nurture=data["enrol_nurture"],
                owner_choices=data.get("deal_owners"),
                start=True,
            )
        except services.ImportRefused as exc:
            return Response(error_body(exc.message, exc.code), status=exc.status)
        return Response(
            ImportJobSerializer(job, context={"request": request}).data,
            status=status.HTTP_202_ACCEPTED,
        )


class ImportDetail(generics.RetrieveAPIView):
    permission_classes = [HasRole]
    read_roles = (MARKETER, MANAGER)
    serializer_class = ImportJobSerializer
    queryset = ImportJob.objects.select_related("campaign", "created_by")


class ImportErrorReport(APIView):
    """`GET /api/imports/{id}/errors.csv`: the failed rows as CSV (the job's
    `error_report_url`), with the API's own authentication (a token works)."""

    permission_classes = [HasRole]
    read_roles = (MARKETER, MANAGER)
    # The report itself is a CSV stream; errors (401, 403, 404) are JSON whatever was asked.
    renderer_classes = [JSONRenderer]

    def perform_content_negotiation(self, request, force=False):
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        operation_id="imports_error_report",
        responses={
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR,
                description="The failed rows as in the file, then line, column and reason.",
            )
        },
    )
    def get(self, request, pk):
        job = generics.get_object_or_404(ImportJob, pk=pk)
        return error_report_response(job)
