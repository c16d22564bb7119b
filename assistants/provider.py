"""One call to an OpenAI-compatible ``POST {base_url}/chat/completions``.

Through chronoflow/http.py, the project's one door for outbound HTTP (timeouts, capped
response size, one exception type), rather than the ``openai`` package: no new
dependency, and the same deadlines, size caps and address policy as every other call.
Errors come out as ``ProviderError`` with a message fit for the run (host and port only,
the API key redacted) and never for the contact.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from chronoflow import http, secrets

MAX_RESPONSE_BYTES = 2 * 1024 * 1024


class ProviderError(Exception):
    """The provider gave no usable answer. ``retryable``: trying again later may help."""

    def __init__(self, message: str, retryable: bool, timed_out: bool = False) -> None:
        super().__init__(message)
        self.retryable, self.timed_out = retryable, timed_out


@dataclass
class Completion:
    """The model's answer: its message (content and/or tool calls) and the tokens it cost."""

    message: dict
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: int = 0
    tool_calls: list = field(default_factory=list)

    @property
    def content(self) -> str:
        return self.message.get("content") or ""


def request_body(assistant, messages: list[dict], tools: list[dict]) -> dict:
    body = {"model": assistant.model, "messages": messages, "temperature": assistant.temperature,
            "max_tokens": assistant.max_tokens}
    if tools:
        body.update(tools=tools, tool_choice="auto")
    return body


def complete(assistant, messages: list[dict], tools: list[dict]) -> Completion:
    """Ask the model for the next message of the chat; ProviderError when it cannot answer."""
    headers = {"Content-Type": "application/json"}
    if assistant.api_key:
        headers["Authorization"] = f"Bearer {assistant.api_key}"
    try:
        response = http.send("POST", assistant.completions_url, headers=headers,
                             json=request_body(assistant, messages, tools), timeout_s=assistant.timeout_ms / 1000,
                             max_bytes=MAX_RESPONSE_BYTES, retries=1,
                             address_policy=http.AddressPolicy.for_http_targets())
        response.raise_for_status()
        data = response.json()
    except http.HttpError as exc:
        raise _error(assistant, exc) from None
    return parse(data, response.elapsed_ms, assistant)


def _error(assistant, exc: http.HttpError) -> ProviderError:
    what = "timed out" if exc.timed_out else "failed"
    message = secrets.redact(f"The model provider {what}: {exc.message}", [assistant.api_key])
    return ProviderError(message[:500], retryable=not exc.permanent, timed_out=exc.timed_out)


def parse(data, latency_ms: int, assistant) -> Completion:
    """The first choice's message and the usage, checked for the shape the API publishes."""
    try:
        message = data["choices"][0]["message"]
        if not isinstance(message, dict):
            raise TypeError
    except (KeyError, IndexError, TypeError):
        raise ProviderError("The model provider answered without choices[0].message.", retryable=True) from None
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    calls = [_tool_call(c) for c in message.get("tool_calls") or [] if isinstance(c, dict)]
    return Completion(message=message, prompt_tokens=int(usage.get("prompt_tokens") or 0),
                      completion_tokens=int(usage.get("completion_tokens") or 0), latency_ms=latency_ms,
                      tool_calls=calls)


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: object  # the parsed JSON; a string the model garbled stays a string (an error for the tool)


def _tool_call(raw: dict) -> ToolCall:
    function = raw.get("function") if isinstance(raw.get("function"), dict) else {}
    text = function.get("arguments") or "{}"
    try:
        arguments = json.loads(text) if isinstance(text, str) else text
    except ValueError:
        arguments = text
    return ToolCall(id=str(raw.get("id") or ""), name=str(function.get("name") or ""), arguments=arguments)
