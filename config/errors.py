"""Error pages: JSON under /api/, HTML elsewhere."""

import logging
import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.views import defaults

log = logging.getLogger(__name__)

# The database went away (restarted, failed over, out of connections) or gave up on a
# transaction (deadlock, serialization failure): the same request will succeed later, so
# the client hears "try again", not "we broke". Whatever the request committed before the
# error stays whole (a transition with its log row), and a retry of it answers as such (a
# move already made is a 409), so the message promises nothing either way.
UNAVAILABLE = (OperationalError, InterfaceError)
RETRY_AFTER_SECONDS = 5
UNAVAILABLE_DETAIL = "The database is briefly unavailable. Try again in a few seconds."


def _wants_json(request) -> bool:
    return request.path.startswith("/api/")


def _json(detail: str, code: str, status: int) -> JsonResponse:
    return JsonResponse({"detail": detail, "code": code}, status=status)


def bad_request(request, exception=None):
    # Django refuses some requests before any view (too many form fields, a malformed
    # multipart body, a suspicious header): the API still answers in its own shape.
    if _wants_json(request):
        return _json("The request could not be read.", "bad_request", 400)
    return defaults.bad_request(request, exception)


def not_found(request, exception=None):
    if _wants_json(request):
        return _json("Not found.", "not_found", 404)
    return render(request, "404.html", status=404)


def forbidden(request, exception=None):
    message = str(exception) if exception else ""
    if _wants_json(request):
        return _json(message or "You do not have permission to do this.", "permission_denied", 403)
    return render(request, "403.html", {"message": message}, status=403)


def unavailable(request):
    if _wants_json(request):
        response = _json(UNAVAILABLE_DETAIL, "service_unavailable", 503)
    else:
        # Rendered without the request: context processors would ask the lost database.
        response = HttpResponse(render_to_string("503.html"), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def server_error(request):
    # Also reached for errors raised outside any view (middleware, session loading).
    if isinstance(sys.exc_info()[1], UNAVAILABLE):
        return unavailable(request)
    if _wants_json(request):
        return _json("Something went wrong on our side; it has been logged.", "server_error", 500)
    return render(request, "500.html", status=500)


class DatabaseUnavailableMiddleware:
    """A view that meets a lost database answers 503, in JSON under /api/, else a page."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, UNAVAILABLE):
            return None
        log.warning(
            "database unavailable during %s %s", request.method, request.path, exc_info=exception
        )
        return unavailable(request)
