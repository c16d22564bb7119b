"""JSON from outside, parsed with a nesting limit.

Python's json module recurses once per level, so a body of 100,000 ``[`` (200 KB) ends in
RecursionError, a 500. ``loads`` counts the nesting first, without recursion (brackets
inside strings are text), and refuses a body deeper than ``MAX_DEPTH`` with a ValueError,
which callers already answer as "not JSON". Used by the API's parser
(``DepthLimitedJSONParser``) and by the two webhook views.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _
from rest_framework import fields
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser, get_encoding
from rest_framework.utils.json import strict_constant

# No real payload comes near this; json's own limit is the interpreter's stack (~1,000).
MAX_DEPTH = 100
# A string (escapes included), or one bracket; everything else cannot change the depth.
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)


class TooDeep(ValueError):
    """The document nests deeper than MAX_DEPTH."""


def depth(text: str) -> int:
    """The deepest nesting of arrays and objects in ``text`` (which need not be valid JSON)."""
    level = deepest = 0
    for match in _TOKEN.finditer(text):
        char = match.group()
        if char in "[{":
            level += 1
            deepest = max(deepest, level)
        elif char in "]}":
            level -= 1
    return deepest


def loads(data: bytes | str, max_depth: int = MAX_DEPTH, **kwargs: Any) -> Any:
    """``json.loads`` that raises TooDeep (a ValueError) past ``max_depth`` levels."""
    text = data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else data
    if depth(text) > max_depth:
        raise TooDeep(f"JSON nested deeper than {max_depth} levels.")
    return json.loads(text, **kwargs)


class DepthLimitedJSONParser(JSONParser):
    """DRF's JSON parser with the nesting limit: a too-deep body is a 400 saying so."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = get_encoding(parser_context or {})
        try:
            text = stream.read().decode(encoding)
            return loads(text, parse_constant=strict_constant if self.strict else None)
        except ValueError as exc:  # TooDeep and UnicodeDecodeError too
            raise ParseError(_("JSON parse error - %(error)s") % {"error": exc}) from None



class NotNullJSONField(fields.JSONField):
    """DRF's JSONField, refusing null where the field does not allow it, from a form too.

    DRF checks ``allow_null`` before parsing; a form carries ``null`` as the text "null",
    which passes that check and parses to None: a 500 on a NOT NULL column, not a 400.
    """

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if value is None and not self.allow_null:
            self.fail("null")
        return value


# For ModelSerializer.serializer_field_mapping: model JSONFields become NotNullJSONField.
JSON_FIELD_MAPPING = {models.JSONField: NotNullJSONField}
