"""Targets: what a chrono does when it fires.

Each target is one module with a function ``run(chrono, run, context) -> Outcome``.
``run_chrono`` looks the function up here and never grows an if-chain.
"""

from dataclasses import dataclass, field
from typing import Any, Callable

from django.utils.module_loading import import_string

REGISTRY: dict[str, str] = {
    "HTTP": "automations.targets.http.run",
    "MESSAGE": "whatsapp.target.run",
    "FUNCTION": "functions.target.run",
}


@dataclass
class Outcome:
    """What one attempt at a target produced."""

    ok: bool
    error: str = ""
    retryable: bool = True  # False: trying again cannot help (4xx, bad config)
    http_status: int | None = None
    response_snippet: str = ""
    result: Any = None
    retry_after: float | None = None  # seconds the other side asked us to wait
    timed_out: bool = False  # the target ran out of time: a final failure is recorded as "timeout"
    extra: dict = field(default_factory=dict)


def resolve(target_type: str) -> Callable:
    try:
        return import_string(REGISTRY[target_type])
    except KeyError:
        raise LookupError(f"Unknown target type {target_type!r}") from None
