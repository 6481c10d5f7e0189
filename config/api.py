"""API plumbing shared by every app: pagination, error shape, role permission."""

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError
from django.http import Http404
from rest_framework import exceptions, permissions, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from funnel.errors import TransitionError
from leads.roles import roles_of
from leads.services import DuplicateLead

from .errors import RETRY_AFTER_SECONDS, UNAVAILABLE, UNAVAILABLE_DETAIL

logger = logging.getLogger(__name__)


class Pagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class HasRole(permissions.BasePermission):
    """Signed in with a Handoff role; a view narrows it with `read_roles` / `write_roles`."""

    message = "Your account has no Handoff role."

    def has_permission(self, request, view) -> bool:
        held = roles_of(request.user)
        if not held:
            return False
        safe = request.method in permissions.SAFE_METHODS
        wanted = getattr(view, "read_roles" if safe else "write_roles", None)
        if not wanted or held & set(wanted):
            return True
        names = " or ".join(role.replace("_", " ") for role in wanted)
        self.message = f"This needs the role {names}."
        return False


def _flatten(detail) -> str:
    if isinstance(detail, dict):
        for field, value in detail.items():
            text = _flatten(value)
            return text if field in ("non_field_errors", "detail") else f"{field}: {text}"
        return "Invalid input."
    if isinstance(detail, list):
        return _flatten(detail[0]) if detail else "Invalid input."
    return str(detail)


def error_body(detail: str, code: str, **extra) -> dict:
    return {"detail": detail, "code": code, **extra}


def exception_handler(exc, context):
    """Every error is {"detail": ..., "code": ...}; field errors come along under "errors"."""
    if isinstance(exc, TransitionError):
        body = error_body(exc.message, exc.code, **exc.extra)
        if exc.errors:
            body["errors"] = exc.errors
        return Response(body, status=exc.status)
    if isinstance(exc, UNAVAILABLE):
        logger.warning("database unavailable: %s", exc, exc_info=exc)
        return Response(
            error_body(UNAVAILABLE_DETAIL, "service_unavailable"),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    if isinstance(exc, DuplicateLead):
        return Response(
            error_body(str(exc), "duplicate", existing_id=exc.existing.pk, field=exc.field),
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, DataError) and "NUL" in str(exc):
        # PostgreSQL text cannot hold NUL: a value that reached a query unchecked (a slug
        # looked up, a filter) is the client's bad input, not our failure.
        return Response(
            error_body("Text cannot contain NUL (0x00) characters.", "invalid"),
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "Not found.")
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = error_body(_flatten(exc.detail), "invalid", errors=exc.detail)
    elif isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else "error"
        response.data = error_body(_flatten(exc.detail), code)
    return response
