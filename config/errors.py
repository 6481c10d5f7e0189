"""Error pages: JSON under /api/, HTML elsewhere."""

from django.http import JsonResponse
from django.shortcuts import render
from django.views import defaults


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


def server_error(request):
    if _wants_json(request):
        return _json("Something went wrong on our side; it has been logged.", "server_error", 500)
    return render(request, "500.html", status=500)
