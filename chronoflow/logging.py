"""Log records that say which chrono, run and channel they are about.

``LOG_FORMAT=json`` writes one JSON object per line (``JsonFormatter``); the default stays
the human-readable line. Either way every record carries ``chrono_id``, ``run_id``,
``channel`` and ``event``, taken, in this order of precedence, from:

- ``extra=`` of the log call: ``log.info("sent", extra={"event": "message.sent", "channel": "shop"})``;
- the context bound around the code that logs: ``with log_context(run_id=run.pk): ...``.
  Celery's run_chrono binds ``chrono_id`` and ``run_id`` from its arguments for the
  whole task, so whatever the task logs, and the worker's own lines about it, say which
  run they belong to.
"""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timezone

from celery.signals import after_setup_logger, after_setup_task_logger, celeryd_init, task_postrun, task_prerun

from chronoflow import secrets

CONTEXT_FIELDS = ("chrono_id", "run_id", "channel", "event")
_context: ContextVar[dict] = ContextVar("chronoflow_log_context", default={})  # noqa: B039 (never mutated)
# LogRecord's own attributes: anything else on a record came from extra= and is shown.
_RECORD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


@contextmanager
def log_context(**fields: object) -> Iterator[None]:
    """Bind fields (chrono_id, run_id, channel, event, ...) to every record logged inside."""
    token = _context.set({**_context.get(), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


def bind(**fields: object) -> object:
    """Bind fields until ``unbind(token)``: for code with no `with` around its work (signals)."""
    return _context.set({**_context.get(), **{k: v for k, v in fields.items() if v is not None}})


def unbind(token: object) -> None:
    try:
        _context.reset(token)
    except ValueError:  # the token was made in another context (thread); nothing to undo
        pass


class ContextFilter(logging.Filter):
    """Puts the bound context and the four standard fields on every record (None if unknown)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in _context.get().items():
            if not hasattr(record, name):
                setattr(record, name, value)
        for name in CONTEXT_FIELDS:
            if not hasattr(record, name):
                setattr(record, name, None)
        return True


class PlainFormatter(logging.Formatter):
    """The human-readable line, with the context appended as ``[key=value ...]`` when there is one.

    ``inner`` formats the line itself (Celery's worker keeps its own format that way).
    """

    def __init__(self, inner: logging.Formatter | None = None) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        line = self.inner.format(record) if self.inner else super().format(record)
        context = " ".join(f"{k}={getattr(record, k)}" for k in CONTEXT_FIELDS if getattr(record, k, None) is not None)
        if not context:
            return line
        first, newline, rest = line.partition("\n")  # keep a traceback below the context
        return f"{first} [{context}]{newline}{rest}"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the context fields, extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, tz=timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **{name: getattr(record, name, None) for name in CONTEXT_FIELDS},
        }
        for name, value in vars(record).items():
            if name not in _RECORD_ATTRS and name not in entry:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        # default=str: an extra that JSON cannot hold (a datetime, a model) still logs.
        return json.dumps(entry, default=str, ensure_ascii=False)


def logging_config(log_format: str, level: str) -> dict:
    """The LOGGING setting: console output in ``log_format`` ('json' or 'plain')."""
    formatter = {"()": JsonFormatter} if log_format == "json" else {"()": PlainFormatter}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        # Secrets never reach a log line (chronoflow/secrets.py); Celery's own handlers get the
        # filter from the signal chronoflow.secrets connects when imported (above).
        "filters": {"context": {"()": ContextFilter}, "redact_secrets": {"()": secrets.RedactingFilter}},
        "formatters": {"default": formatter},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "default",
                                 "filters": ["context", "redact_secrets"]}},
        "root": {"handlers": ["console"], "level": level},
    }


# --- Celery: every line a run_chrono task logs names its chrono and run ---------------------
# Connected at import: settings import this module, so web, worker and beat all have it.

_task_tokens: dict[str, object] = {}


@task_prerun.connect(dispatch_uid="chronoflow_log_context_bind")
def _bind_task_context(task_id: str = "", kwargs: dict | None = None, **_: object) -> None:
    kwargs = kwargs or {}
    _task_tokens[task_id] = bind(chrono_id=kwargs.get("chrono_id"), run_id=kwargs.get("run_id"))


@task_postrun.connect(dispatch_uid="chronoflow_log_context_unbind")
def _unbind_task_context(task_id: str = "", task=None, kwargs: dict | None = None, retval=None,
                         state: str = "", **_: object) -> None:
    if task is not None and task.name == "automations.tasks.run_chrono":
        logging.getLogger("chronoflow.runs").info(
            "run_chrono finished: %s", retval, extra={"event": "run.executed", "outcome": str(retval), "task_state": state},
        )
    token = _task_tokens.pop(task_id, None)
    if token is not None:
        unbind(token)


@after_setup_logger.connect(dispatch_uid="chronoflow_celery_log_format")
@after_setup_task_logger.connect(dispatch_uid="chronoflow_celery_task_log_format")
def _format_celery_logs(logger: logging.Logger | None = None, **_: object) -> None:
    """Celery replaces the handlers Django configured: give its handlers our fields and format."""
    from django.conf import settings

    for handler in getattr(logger, "handlers", []):
        if any(isinstance(f, ContextFilter) for f in handler.filters):
            continue
        handler.addFilter(ContextFilter())
        json_lines = getattr(settings, "LOG_FORMAT", "plain") == "json"
        handler.setFormatter(JsonFormatter() if json_lines else PlainFormatter(inner=handler.formatter))


@celeryd_init.connect(dispatch_uid="chronoflow_quiet_json_worker")
def _no_banner_in_json_mode(instance=None, **_: object) -> None:
    """The worker's start-up banner is printed, not logged: in JSON mode it would break the one-object-per-line contract."""
    from django.conf import settings

    if instance is not None and getattr(settings, "LOG_FORMAT", "plain") == "json":
        instance.quiet = True
