"""The FUNCTION target: run the chrono's user function once in the sandbox."""

import json

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from automations.models import ChronoRun
from automations.targets import Outcome


def deadline_s(chrono) -> float:
    start_ms = getattr(settings, "FUNCTION_START_TIMEOUT_MS", 10_000)
    return (start_ms + chrono.function.timeout_ms) / 1000 if chrono.function is not None else start_ms / 1000


def config_errors(chrono) -> dict[str, list[str]]:
    # An unsaved function attached by the API (functionCode) counts: it is saved with the chrono.
    if chrono.function_id or type(chrono).function.field.get_cached_value(chrono, None):
        return {}
    return {"function": [_("A FUNCTION chrono needs a function.")]}


def run(chrono, run, context: dict) -> Outcome:
    """Run chrono.function with the run's input; the run keeps value, logs, counts and errors."""
    function = chrono.function
    if function is None:
        return Outcome(ok=False, error="This FUNCTION chrono has no function.", retryable=False)
    return outcome(function.run_once(input=run.input, chrono=chrono, run=run))


def outcome(report) -> Outcome:
    """A failed function is not retried (it may have sent messages), unless the sandbox itself failed."""
    snippet = json.dumps(report.value, ensure_ascii=False)[: ChronoRun.SNIPPET_CHARS] if report.ok else ""
    return Outcome(ok=report.ok, error=report.error_text, retryable=report.platform_failure,
                   result=report.as_result(), response_snippet=snippet, timed_out=report.limit == "timeout")
