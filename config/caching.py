"""Answers to a signed-in user carry personal data (leads, their e-mails, the log): no shared
cache may keep them and no browser may store them on disk (`Cache-Control: private,
no-store`). Public answers (the landing pages, static files, the login page) are left alone.
"""

PRIVATE = "private, no-store"


class PrivateCacheMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        # Read after the view: the API's token authentication sets the user only then.
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            current = response.get("Cache-Control", "")
            # never_cache's "max-age=0, no-cache, no-store, must-revalidate, private" stays;
            # anything that would let a cache keep the answer is replaced.
            if "no-store" not in current or "private" not in current:
                response["Cache-Control"] = PRIVATE
        return response
