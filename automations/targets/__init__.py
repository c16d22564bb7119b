"""Targets: what a chrono does when it fires.

Each target is one module named in ``REGISTRY`` by its ``Chrono.target_type``, with:

* ``run(chrono, run, context) -> Outcome``: one attempt;
* ``deadline_s(chrono) -> float``: the longest one attempt can legitimately take (the
  reaper counts an attempt running longer than that, plus its grace, as lost);
* ``config_errors(chrono) -> dict[str, list[str]]``: what is missing or wrong in the
  chrono's fields for this target, by field (``Chrono.clean`` reports them).

``run_chrono``, the reaper and the model look the module up here and never branch on the
target type: a new target is one module and one line in ``REGISTRY``.
"""

from dataclasses import dataclass, field
from importlib import import_module
from types import ModuleType
from typing import Any

REGISTRY: dict[str, str] = {
    "HTTP": "automations.targets.http",
    "MESSAGE": "automations.targets.message",
    "FUNCTION": "automations.targets.function",
    "ASSISTANT": "automations.targets.assistant",
    "ROUTINE": "automations.targets.routine",
    "CAMPAIGN": "automations.targets.campaign",
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
    # Nothing was done and it cannot start yet (a channel reconnecting): not an attempt;
    # the run waits this many seconds and tries again without using up its attempts.
    wait_s: float | None = None
    extra: dict = field(default_factory=dict)


def module(target_type: str) -> ModuleType:
    """The module of ``target_type``; LookupError for a type no module is registered for."""
    try:
        return import_module(REGISTRY[target_type])
    except KeyError:
        raise LookupError(f"Unknown target type {target_type!r}") from None


def run(chrono, run, context: dict) -> Outcome:
    return module(chrono.target_type).run(chrono, run, context)


def deadline_s(chrono) -> float:
    return module(chrono.target_type).deadline_s(chrono)


def config_errors(chrono) -> dict[str, list[str]]:
    try:
        target = module(chrono.target_type)
    except LookupError:
        return {}  # the field's own choices refuse an unknown type
    return target.config_errors(chrono)
