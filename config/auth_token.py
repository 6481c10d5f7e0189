"""POST /api/auth/token/: DRF's token view, answering 429 while django-axes locks the login.

DRF hands authenticate() its own Request, on which axes marks the lockout; the middleware looks
at the Django request, so without this view a locked-out client would get a bare 400.
"""

from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.exceptions import ValidationError

from .lockout import lockout_response


class ObtainAuthTokenThrottled(ObtainAuthToken):
    def post(self, request, *args, **kwargs):
        try:
            return super().post(request, *args, **kwargs)
        except ValidationError:
            if getattr(request, "axes_locked_out", False):
                username = request.data.get("username") if hasattr(request.data, "get") else None
                return lockout_response(request._request, credentials={"username": username})
            raise


obtain_auth_token = ObtainAuthTokenThrottled.as_view()
