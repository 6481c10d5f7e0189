"""A Content Security Policy on every response: scripts, styles and images from this site only.

Pages carry no inline script or style (htmx is told not to inject its indicator styles), so
an injected <script> or style attribute does nothing. Django 5.2 has no CSP of its own.
"""

import functools
import re

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

# A page's frame-ancestors directive, wherever it stands in the policy.
_FRAME_ANCESTORS = re.compile(r"(^|;)\s*frame-ancestors[^;]*")
_ORIGIN = re.compile(r"^(https?://[A-Za-z0-9.*-]+(:[0-9]+)?|'self')$")


def frame_ancestors_check(origins: list[str]) -> list[str]:
    """HANDOFF_FRAME_ANCESTORS: origins (https://www.example.com) or 'self', nothing else, so
    a typo cannot widen or break the policy."""
    for origin in origins:
        if not _ORIGIN.match(origin):
            raise ImproperlyConfigured(
                f"HANDOFF_FRAME_ANCESTORS: {origin!r} is not an origin such as "
                "https://www.example.com (or 'self')"
            )
    return origins


def policy_framed_by(policy: str, origins: list[str]) -> str:
    directive = "frame-ancestors " + " ".join(origins)
    if _FRAME_ANCESTORS.search(policy):
        return _FRAME_ANCESTORS.sub(lambda m: f"{m.group(1)} {directive}".lstrip(), policy, 1)
    return f"{policy.rstrip('; ')}; {directive}"


def frameable(view):
    """The public landing page may be framed by the sites in HANDOFF_FRAME_ANCESTORS (a
    marketer's own site embeds the form); with none set it stays unframeable like every page.

    Browsers send Handoff's cookies (the form's CSRF cookie among them, SameSite=Lax) only to
    a frame on the same site, so a page framed from www.example.com works for a Handoff at
    crm.example.com; another site posts through the capture API instead."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        origins = settings.HANDOFF_FRAME_ANCESTORS
        if origins:
            response.xframe_options_exempt = True
            if settings.HANDOFF_CSP:
                response.headers["Content-Security-Policy"] = policy_framed_by(
                    settings.HANDOFF_CSP, origins
                )
        return response

    return wrapped


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.policy = settings.HANDOFF_CSP

    def __call__(self, request):
        response = self.get_response(request)
        if self.policy:
            response.headers.setdefault("Content-Security-Policy", self.policy)
        return response
