"""What one function run produced, in the shapes its readers need.

``as_result()`` is what a ChronoRun keeps (and ``run_function`` prints): the return
value, logs, state change, how many http calls and messages were made, and, for errors,
the user's own traceback lines. No request headers, env values or platform paths.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any



@dataclass
class FunctionReport:
    function: str
    version: int
    ok: bool
    value: Any = None
    error: dict = field(default_factory=dict)
    limit: str | None = None
    refused: list[str] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)
    state_change: dict = field(default_factory=dict)
    http_calls: int = 0
    messages: int = 0
    duration_ms: int = 0
    platform_failure: bool = False

    @classmethod
    def build(cls, function, session, result) -> FunctionReport:
        """Combine the sandbox's Result with the SDK session's counters and logs."""
        refused = list(session.refusals)
        return cls(
            function=function.name, version=function.version, ok=result.ok and not refused,
            value=result.value if result.ok else None, error=dict(result.error), limit=result.limit,
            refused=refused[:20], logs=session.logs.as_list(),
            state_change=session.changes_for_record() if result.ok and not refused else {},
            http_calls=session.http_calls, messages=session.messages_sent, duration_ms=result.duration_ms,
            platform_failure=result.platform_failure,
        )

    @property
    def error_text(self) -> str:
        """One line for ChronoRun.error_message and the chrono's last_error."""
        if self.ok:
            return ""
        if self.error:
            where = self.error.get("traceback") or []
            text = f"{self.error.get('type', 'Error')}: {self.error.get('message', '')}".rstrip(": ")
            return f"{text} ({where[-1]})" if where else text
        return f"Refused: {self.refused[0]}" if self.refused else "The function failed."

    def as_result(self) -> dict:
        result = {
            "function": self.function, "version": self.version, "return": self.value, "logs": self.logs,
            "state_change": self.state_change, "http_calls": self.http_calls, "messages": self.messages,
            "duration_ms": self.duration_ms,
        }
        if not self.ok:
            result.update(error=self.error or {"type": "Refused", "message": self.error_text, "traceback": []},
                          limit=self.limit, refused=self.refused)
        return result
