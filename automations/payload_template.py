"""HTTP payload templates: the run's input (and chrono, run, now) inside an HTTP chrono's JSON body.

Only string values that contain ``{{`` or ``{%`` are templates; everything else is sent
as written, keys included. Two forms:

- ``"{{ input.order.id }}"`` alone (one variable, no filters, nothing around it) is
  replaced by the value itself, keeping its JSON type: a number stays a number, a list
  a list, and a missing value becomes ``null`` (a value JSON has no type for, such as
  ``now``, is rendered as text);
- any other string is rendered with Django's template language (autoescape off):
  ``"Order {{ input.order.id }} for {{ input.name|default:'you' }}"``.

A template error fails the run without retrying; it names the JSON path of the value.
"""

from __future__ import annotations

import re
from typing import Any

from django.template import Context, Template, TemplateSyntaxError, Variable, VariableDoesNotExist

WHOLE_VARIABLE = re.compile(r"^\{\{\s*([\w.]+)\s*\}\}$")
# What a lone variable may become as it is; anything else (a date, a model) is rendered as text.
JSON_TYPES = (dict, list, str, int, float, bool, type(None))


class PayloadTemplateError(ValueError):
    """A template in the payload that does not compile; the message names where it is."""


def is_template(value: object) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def render(payload: Any, values: dict) -> Any:
    """The payload with every template string rendered against ``values`` (input, chrono, run, now)."""
    return _render(payload, Context(values, autoescape=False), "payload")


def _render(value: Any, context: Context, path: str) -> Any:
    if isinstance(value, dict):
        return {key: _render(item, context, f"{path}.{key}") for key, item in value.items()}
    if isinstance(value, list):
        return [_render(item, context, f"{path}[{index}]") for index, item in enumerate(value)]
    if not is_template(value):
        return value
    whole = WHOLE_VARIABLE.match(value)
    if whole:
        resolved = _resolve(whole.group(1), context)
        if isinstance(resolved, JSON_TYPES):
            return resolved
    try:
        return Template(value).render(context)
    except TemplateSyntaxError as exc:
        raise PayloadTemplateError(f"The template at {path} has an error: {exc}") from None


def _resolve(name: str, context: Context) -> Any:
    try:
        return Variable(name).resolve(context)
    except VariableDoesNotExist:
        return None
