"""A Content Security Policy on every response: scripts, styles and images from this site only.

Pages carry no inline script or style (htmx is told not to inject its indicator styles), so
an injected <script> or style attribute does nothing. Django 5.2 has no CSP of its own.
"""

from django.conf import settings


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.policy = settings.HANDOFF_CSP

    def __call__(self, request):
        response = self.get_response(request)
        if self.policy:
            response.headers.setdefault("Content-Security-Policy", self.policy)
        return response
