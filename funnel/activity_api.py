"""The activities and tasks part of the public API (DESIGN.md, "Activities and tasks")."""

from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import HasRole, Pagination
from config.schema import error
from leads.selectors import lead_for_user

from . import activities
from .activity_serializers import (
    ActivityRequestSerializer,
    ActivitySerializer,
    TaskQuerySerializer,
    TaskRequestSerializer,
    TaskSerializer,
    TaskUpdateSerializer,
)
from .errors import LeadNotFound


def _validated(serializer_class, data, **kwargs) -> dict:
    if not isinstance(data, dict):
        raise ValidationError({"non_field_errors": ["Send a JSON object."]})
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class LeadActivities(APIView):
    permission_classes = [HasRole]

    @extend_schema(responses=ActivitySerializer(many=True))
    def get(self, request, pk):
        lead = lead_for_user(request.user, pk)
        rows = lead.activities.select_related("actor").order_by("at", "id")
        return Response(ActivitySerializer(rows, many=True).data)

    @extend_schema(
        request=ActivityRequestSerializer,
        responses={
            201: ActivitySerializer,
            403: error("A sales rep logs only on their own and unassigned leads."),
        },
    )
    def post(self, request, pk):
        lead = lead_for_user(request.user, pk)
        data = _validated(ActivityRequestSerializer, request.data)
        row = activities.activity_log(
            lead_id=lead.pk,
            actor=request.user,
            kind=data["kind"],
            outcome=data.get("outcome") or "",
            at=data.get("at"),
            duration_minutes=data.get("duration_minutes"),
            note=data.get("note") or "",
        )
        return Response(ActivitySerializer(row).data, status=status.HTTP_201_CREATED)


class TaskListCreate(generics.ListAPIView):
    permission_classes = [HasRole]
    serializer_class = TaskSerializer
    pagination_class = Pagination
    filterset_class = None

    def get_queryset(self):
        query = _validated(TaskQuerySerializer, self.request.query_params.dict())
        return activities.tasks_filter(
            activities.task_list(),
            user=self.request.user,
            owner=query.get("owner", ""),
            lead=query.get("lead"),
            due=query.get("due", ""),
            done=query.get("done"),
        )

    @extend_schema(parameters=[TaskQuerySerializer])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=TaskRequestSerializer,
        responses={
            201: TaskSerializer,
            403: error("A sales rep adds tasks only on their own and unassigned leads."),
            404: error("No such lead."),
        },
    )
    def post(self, request):
        data = _validated(TaskRequestSerializer, request.data)
        task = activities.task_create(
            lead_id=data["lead"],
            actor=request.user,
            title=data["title"],
            due_at=data["due_at"],
            owner=data.get("owner") or None,
        )
        return Response(TaskSerializer(task).data, status=status.HTTP_201_CREATED)


class TaskDetail(APIView):
    permission_classes = [HasRole]

    @extend_schema(responses=TaskSerializer)
    def get(self, request, pk):
        task = activities.task_list().filter(pk=pk).first()
        if task is None:
            raise LeadNotFound("No such task.")
        return Response(TaskSerializer(task).data)

    @extend_schema(request=TaskUpdateSerializer, responses=TaskSerializer)
    def patch(self, request, pk):
        data = _validated(TaskUpdateSerializer, request.data)
        task = activities.task_update(
            task_id=pk,
            actor=request.user,
            done=data.get("done"),
            title=data.get("title"),
            due_at=data.get("due_at"),
        )
        return Response(TaskSerializer(activities.task_list().get(pk=task.pk)).data)
