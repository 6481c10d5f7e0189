"""POST /api/auth/token/: DRF's token view, answering 429 while django-axes locks the login.
DELETE /api/auth/token/ revokes the caller's token; the next POST makes a new one.

DRF hands authenticate() its own Request, on which axes marks the lockout; the middleware looks
at the Django request, so without this view a locked-out client would get a bare 400.
"""

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema
from rest_framework import parsers, serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from .lockout import lockout_response
from .parsers import JSONParser
from .schema import error


class AuthTokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField()


class TokenRequestSerializer(AuthTokenSerializer):
    # A username longer than any user's would reach axes' failed-login record (255
    # characters) and fail there: refuse it as the form on the login page does.
    username = serializers.CharField(
        label="Username",
        write_only=True,
        max_length=get_user_model()._meta.get_field("username").max_length,
    )


class ObtainAuthTokenThrottled(ObtainAuthToken):
    serializer_class = TokenRequestSerializer
    # DRF's view names its own parsers; a too deeply nested JSON body is a 400 here too.
    parser_classes = (parsers.FormParser, parsers.MultiPartParser, JSONParser)

    @extend_schema(
        responses={
            200: AuthTokenResponseSerializer,
            400: error("Wrong username or password, or a field missing."),
            429: error("Too many failed logins for this username from this address."),
        }
    )
    def post(self, request, *args, **kwargs):
        try:
            return super().post(request, *args, **kwargs)
        except ValidationError:
            if getattr(request, "axes_locked_out", False):
                username = request.data.get("username") if hasattr(request.data, "get") else None
                return lockout_response(request._request, credentials={"username": username})
            raise

    def get_permissions(self):
        # POST is how a client signs in; DELETE needs the caller signed in already.
        return [IsAuthenticated()] if self.request.method == "DELETE" else []

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, *args, **kwargs):
        """Revoke the caller's token: every client using it gets 401 from now on."""
        Token.objects.filter(user=request.user).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


obtain_auth_token = ObtainAuthTokenThrottled.as_view()
