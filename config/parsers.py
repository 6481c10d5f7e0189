"""JSON bodies the API reads: DRF's parser, with a body nested too deeply for Python's JSON
decoder (`[[[[...` thousands deep, a few kilobytes) answered as bad input.

The standard library's decoder recurses once per level and raises RecursionError, which DRF's
parser does not catch (it knows only ValueError): without this every JSON endpoint, the
unauthenticated token and capture endpoints included, answered 500.
"""

import json

from rest_framework import parsers
from rest_framework.exceptions import ParseError

NESTED_TOO_DEEPLY = "JSON parse error - the body is nested too deeply."


def json_loads(text: str):
    """json.loads, with a body nested too deeply raised as the ValueError it is."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError(NESTED_TOO_DEEPLY) from None


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(NESTED_TOO_DEEPLY) from None
