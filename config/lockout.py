"""The answer to a locked-out login (django-axes): 429, a page, or JSON under /api/."""

from axes.helpers import get_client_username, get_cool_off, get_failure_limit
from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render


def cooloff_minutes(request) -> int:
    cool_off = get_cool_off(request)
    return max(1, round(cool_off.total_seconds() / 60)) if cool_off else 0


def lockout_message(request, credentials=None) -> str:
    limit = get_failure_limit(request, credentials)
    minutes = cooloff_minutes(request)
    return (
        f"Too many failed logins ({limit}): locked for {minutes} minute"
        f"{'' if minutes == 1 else 's'}. Try again later."
    )


def lockout_response(request, original_response=None, credentials=None):
    status = settings.AXES_HTTP_RESPONSE_CODE
    minutes = cooloff_minutes(request)
    if request.path.startswith("/api/"):
        response = JsonResponse(
            {"detail": lockout_message(request, credentials), "code": "locked_out"}, status=status
        )
    else:
        context = {
            "failure_limit": get_failure_limit(request, credentials),
            "username": get_client_username(request, credentials) or "",
            "cooloff_minutes": minutes,
        }
        response = render(request, "registration/locked_out.html", context, status=status)
    if minutes:
        response["Retry-After"] = str(minutes * 60)
    return response
