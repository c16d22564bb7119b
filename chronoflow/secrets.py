"""Secrets are write-only: an operator can set them, nobody can read them back.

HTTP target headers that carry credentials (Authorization, X-Api-Key, any name with
token, secret, key, password, cookie, signature...), the WAHA key, HMAC keys and webhook
tokens are shown as ``MASK`` in API responses and admin pages. Sending ``MASK`` back
(e.g. a GET → edit → PUT round trip) keeps the stored value. Run results and logs get
the known secret values replaced by ``MASK`` before they are stored or written.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any

MASK = "********"
_SECRET_NAME = re.compile(
    r"auth|token|secret|passw|pwd|api[-_]?key|apikey|(^|[-_])key$|signature|cookie|session|credential|private",
    re.IGNORECASE,
)
MIN_SECRET_CHARS = 4  # shorter values are too common to redact from text safely
# "Authorization: Bearer abc", "x-api-key=abc", '"apiKey": "abc"' in free text (logs, errors).
_INLINE = re.compile(
    r"(?P<name>authorization|proxy-authorization|x-api-key|api[-_]?key|apikey|token|secret|password|hmac[-_]?key"
    r"|webhook[-_]?token|cookie)(?P<sep>[\"']?\s*[:=]\s*[\"']?)(?P<scheme>(?:bearer|basic|token)\s+)?"
    r"(?P<value>[^\s\"',;}]+)",
    re.IGNORECASE,
)


def is_secret_name(name: str) -> bool:
    """Whether a header or setting with this name holds a credential."""
    return bool(_SECRET_NAME.search(str(name)))


def mask_mapping(values: Mapping | None) -> Any:
    """A copy with the values of secret-named keys replaced by MASK (other values as they are)."""
    if not isinstance(values, Mapping):
        return values
    return {k: (MASK if is_secret_name(k) and v not in (None, "") else v) for k, v in values.items()}


def mask_values(values: Mapping | None) -> Any:
    """A copy with every non-empty value replaced by MASK: a mapping that is all secrets (a function's env)."""
    if not isinstance(values, Mapping):
        return values
    return {k: (MASK if v not in (None, "") else v) for k, v in values.items()}


def keep_masked(new: Any, old: Mapping | None) -> Any:
    """``new`` with every value still equal to MASK replaced by the stored one of that name.

    The name matches case-insensitively; a MASK with nothing stored under its name is
    dropped rather than saved as a literal mask.
    """
    if not isinstance(new, Mapping):
        return new
    stored = {str(k).lower(): v for k, v in (old or {}).items()} if isinstance(old, Mapping) else {}
    kept = {}
    for name, value in new.items():
        if value == MASK:
            if str(name).lower() in stored:
                kept[name] = stored[str(name).lower()]
            continue
        kept[name] = value
    return kept


def mask_form_initial(form, names: Iterable[str], mask=mask_mapping) -> None:
    """Show the secret values of these mapping fields of a ModelForm as MASK (``mask``: which values)."""
    for name in names:
        if name in form.initial:
            form.initial[name] = mask(form.initial[name])


def keep_masked_in_form(form, cleaned: dict, names: Iterable[str]) -> dict:
    """In a ModelForm's clean(): MASK left untouched keeps the stored value (see keep_masked)."""
    for name in names:
        if name in cleaned:
            cleaned[name] = keep_masked(cleaned[name], getattr(form.instance, name, None) if form.instance.pk else None)
    return cleaned


def secret_values(headers: Mapping | None, extra: Iterable[str] = ()) -> list[str]:
    """The secret strings to look for in text: secret header values and their bare tokens."""
    found = [str(v) for v in extra if v]
    for name, value in (headers or {}).items() if isinstance(headers, Mapping) else ():
        if is_secret_name(name) and isinstance(value, str):
            found.append(value)
            found.extend(part for part in value.split()[1:])  # "Bearer abc" → also "abc"
    # Longest first, so "Bearer abc" is replaced whole before "abc" is.
    return sorted({v for v in found if len(v) >= MIN_SECRET_CHARS}, key=len, reverse=True)


def redact(text: str, values: Iterable[str]) -> str:
    """``text`` with each of ``values`` replaced by MASK."""
    for value in values:
        if value and value in text:
            text = text.replace(value, MASK)
    return text


def redact_json(data: Any, values: list[str]) -> Any:
    """Redact every string inside a JSON-like value (dict keys included)."""
    if not values:
        return data
    if isinstance(data, str):
        return redact(data, values)
    if isinstance(data, list):
        return [redact_json(item, values) for item in data]
    if isinstance(data, dict):
        return {redact_json(k, values): redact_json(v, values) for k, v in data.items()}
    return data

# Webhook URLs carry their secret in the path; Django logs the path of every 4xx it answers.
_URL_TOKEN = re.compile(r"(?P<route>/(?:hooks|whatsapp/webhooks)/)(?P<token>[^/?#\s\"']+)")


def redact_inline(text: str) -> str:
    """Mask credentials in free text: values after a credential's name ("Authorization: Bearer x")
    and the token in a webhook URL ("/hooks/<token>")."""
    text = _INLINE.sub(lambda m: f"{m['name']}{m['sep']}{m['scheme'] or ''}{MASK}", text)
    return _URL_TOKEN.sub(lambda m: f"{m['route']}{MASK}", text)


class RedactingFilter(logging.Filter):
    """A logging filter: the deployment's secrets and inline credentials never reach a log line.

    Values come from settings at first use (SECRET_KEY, WAHA_API_KEY, WAHA_WEBHOOK_HMAC_KEY).
    The message is formatted once here, so arguments carrying a secret are covered too.
    """

    def __init__(self, name: str = "") -> None:
        super().__init__(name)
        self._values: list[str] | None = None

    def values(self) -> list[str]:
        if self._values is None:
            from django.conf import settings

            names = ("SECRET_KEY", "WAHA_API_KEY", "WAHA_WEBHOOK_HMAC_KEY")
            self._values = secret_values({}, [getattr(settings, name, "") for name in names])
        return self._values

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string is the logging module's to report
            return True
        clean = redact_inline(redact(message, self.values()))
        if clean != message:
            record.msg, record.args = clean, None
        return True


def _filter_celery_handlers(logger: logging.Logger | None = None, **_: object) -> None:
    """Celery replaces the handlers Django configured: give its handlers the redaction too."""
    for handler in getattr(logger, "handlers", []):
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())


def _connect_celery() -> None:
    from celery.signals import after_setup_logger, after_setup_task_logger

    after_setup_logger.connect(_filter_celery_handlers, dispatch_uid="chronoflow_redact_celery_logs", weak=False)
    after_setup_task_logger.connect(_filter_celery_handlers, dispatch_uid="chronoflow_redact_celery_task_logs",
                                    weak=False)


_connect_celery()
