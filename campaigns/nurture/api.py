from django.db import transaction
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.response import Response

from config.api import HasRole
from leads.roles import MANAGER, MARKETER

from . import selectors, services
from .models import Enrollment, Message, Programme
from .serializers import EnrollmentSerializer, ProgrammeSerializer

MARKETING = (MARKETER, MANAGER)


class ProgrammeListCreate(generics.ListCreateAPIView):
    """Nurture programmes with their steps and figures; marketers and managers create them."""

    permission_classes = [HasRole]
    read_roles = MARKETING
    write_roles = MARKETING
    serializer_class = ProgrammeSerializer
    queryset = Programme.objects.prefetch_related("steps__audience").order_by("priority", "id")

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["stats"] = getattr(self, "_stats", {})
        return context

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        self._stats = selectors.programme_stats(page)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        with transaction.atomic():
            programme = services.programme_create(
                name=data["name"],
                exits=data["exits"],
                reasons=data.get("reasons", []),
                priority=data.get("priority", 100),
                is_active=data.get("is_active", True),
                created_by=request.user,
            )
            for step in data.get("steps", []):
                services.step_add(programme=programme, **step)
        self._stats = selectors.programme_stats([programme])
        return Response(self.get_serializer(programme).data, status=status.HTTP_201_CREATED)


class ProgrammeDetail(generics.RetrieveAPIView):
    permission_classes = [HasRole]
    read_roles = MARKETING
    serializer_class = ProgrammeSerializer

    def get_object(self):
        programme = get_object_or_404(
            Programme.objects.prefetch_related("steps__audience"), pk=self.kwargs["pk"]
        )
        self._stats = selectors.programme_stats([programme])
        return programme

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["stats"] = getattr(self, "_stats", {})
        return context


class EnrollmentList(generics.ListAPIView):
    """Enrollments, newest first; filters `lead`, `programme`, `status`."""

    permission_classes = [HasRole]
    read_roles = MARKETING
    serializer_class = EnrollmentSerializer
    filterset_fields = ("lead", "programme", "status")

    def get_queryset(self):
        return Enrollment.objects.annotate(
            messages_sent=Count("messages", filter=Q(messages__status=Message.Status.SENT))
        ).order_by("-enrolled_at", "-id")

    @extend_schema(responses=EnrollmentSerializer(many=True))
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
