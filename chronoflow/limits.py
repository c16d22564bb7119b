"""Size caps on what operators and integrators send in (MAX_* settings).

Each check returns ``{field: [message]}`` for what is too big, so models' ``clean()``
(and through them the API's 400 and the admin's form errors) name the field. Request
bodies as a whole are capped by Django itself (DATA_UPLOAD_MAX_MEMORY_SIZE =
MAX_REQUEST_BYTES), which answers 400 before any view reads them.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _


def json_bytes(value: Any) -> int:
    """The size of a value as compact UTF-8 JSON (what is stored and sent)."""
    try:
        return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str).encode())
    except (TypeError, ValueError):
        return 0  # not JSON: the field's own validation says so


def chrono_errors(chrono) -> dict[str, list[str]]:
    """Every size cap a chrono's fields break, keyed by field."""
    errors: dict[str, list[str]] = {}
    for name in ("payload", "extras"):
        size = json_bytes(getattr(chrono, name))
        if size > settings.MAX_PAYLOAD_BYTES:
            errors[name] = [_("Too large: %(size)d bytes as JSON; the limit is %(max)d (MAX_PAYLOAD_BYTES).")
                             % {"size": size, "max": settings.MAX_PAYLOAD_BYTES}]
    problem = headers_problem(chrono.headers)
    if problem:
        errors["headers"] = [problem]
    template = chrono.message_template or ""
    if len(template) > settings.MAX_TEMPLATE_CHARS:
        errors["message_template"] = [_("Too long: %(size)d characters; the limit is %(max)d (MAX_TEMPLATE_CHARS).")
                                      % {"size": len(template), "max": settings.MAX_TEMPLATE_CHARS}]
    recipients = chrono.recipients
    if isinstance(recipients, list) and len(recipients) > settings.MAX_RECIPIENTS:
        errors["recipients"] = [_("Too many: %(count)d recipients; the limit is %(max)d (MAX_RECIPIENTS).")
                                % {"count": len(recipients), "max": settings.MAX_RECIPIENTS}]
    return errors


def headers_problem(headers: Any) -> str | None:
    if not isinstance(headers, dict):
        return None  # the model says what shape headers must have
    if len(headers) > settings.MAX_HEADERS:
        return _("Too many: %(count)d headers; the limit is %(max)d (MAX_HEADERS).") % {"count": len(headers), "max": settings.MAX_HEADERS}
    for name, value in headers.items():
        size = len(str(name).encode()) + len(str(value).encode())
        if size > settings.MAX_HEADER_BYTES:
            return (_("Header %(name)r is too large: %(size)d bytes; the limit is %(max)d (MAX_HEADER_BYTES).")
                    % {"name": str(name)[:60], "size": size, "max": settings.MAX_HEADER_BYTES})
    return None


def function_code_errors(code: str) -> dict[str, list[str]]:
    size = len((code or "").encode("utf-8", "surrogatepass"))
    if size > settings.MAX_FUNCTION_CODE_BYTES:
        return {"code": [_("Too large: %(size)d bytes; the limit is %(max)d (MAX_FUNCTION_CODE_BYTES).")
                          % {"size": size, "max": settings.MAX_FUNCTION_CODE_BYTES}]}
    return {}
