"""The OpenAPI schema documents every error an operation can answer, not only its success.

Errors share one shape, `{"detail", "code"}` (field errors under `errors`), made by
`config.api.exception_handler`. Which of them an operation can answer follows from the view:
signed-in operations can answer 401 and 403, an operation with a path parameter 404, one that
takes a body or query parameters 400. A view documents its own further errors (409, 413, 429...)
with `extend_schema`, and may override these. The fuzzer (tests/hardening/test_api_fuzz.py)
holds every response to this schema.
"""

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.permissions import AllowAny


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField()
    errors = serializers.JSONField(required=False, help_text="Field errors, by field name.")


def error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


class AutoSchema(SpectacularAutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code, description in self._implied_errors():
            if str(code) not in responses:
                responses[str(code)] = self._get_response_for_code(
                    error(description), str(code), direction=direction
                )
        return dict(sorted(responses.items()))

    def _implied_errors(self):
        permissions = self.view.get_permissions()
        if not all(isinstance(permission, AllowAny) for permission in permissions):
            yield 401, "Not signed in, or the token is wrong or revoked."
            yield 403, "The user's role may not do this, or the object is a colleague's."
        if "{" in self.path:
            yield 404, "No such object, or not one this user may see."
        elif self.method == "GET" and self._get_pagination_parameters():
            yield 404, "No such page."
        takes_body = self.method in ("POST", "PUT", "PATCH")
        takes_query = bool(
            self._get_filter_parameters()
            or self._get_pagination_parameters()
            or self.get_override_parameters()
        )
        if takes_body or takes_query:
            yield 400, "Invalid input: `detail` says what, `errors` by field."
