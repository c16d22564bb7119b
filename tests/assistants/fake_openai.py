"""A fake OpenAI-compatible chat-completions server on 127.0.0.1, for the assistant tests.

Every request is checked against the published shape of ``POST /v1/chat/completions``
(https://platform.openai.com/docs/api-reference/chat/create): the Bearer key, ``model``,
``messages`` with their roles (an assistant's ``tool_calls``, each ``tool`` message
answering one of them), ``tools`` as ``{"type": "function", "function": {name,
description, parameters}}``, ``tool_choice``, ``temperature``, ``max_tokens``. A request
that breaks it is answered 400 and kept in ``violations``; the fixture fails the test on
any, even when the code under test swallowed the 400.

Answers are scripted in order (``script(...)``), built with ``tool_call()`` and ``text()``;
``Stall(seconds)`` waits before answering (a provider timeout), ``(status, body)`` answers an error.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

API_KEY = "sk-test-" + uuid.uuid4().hex
PATH = "/v1/chat/completions"
ROLES = {"system", "user", "assistant", "tool", "developer"}
BODY_KEYS = {"model", "messages", "tools", "tool_choice", "temperature", "max_tokens", "max_completion_tokens",
             "top_p", "stream", "stop", "n", "user", "seed", "response_format", "parallel_tool_calls"}
FUNCTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass
class Stall:
    seconds: float


def usage(prompt: int, completion: int) -> dict:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def completion(message: dict, finish: str, tokens: tuple[int, int]) -> dict:
    return {"id": "chatcmpl-" + uuid.uuid4().hex[:12], "object": "chat.completion", "created": 1767261600,
            "model": "fake-model", "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": usage(*tokens)}


def tool_call(name: str, arguments: dict, tokens: tuple[int, int] = (120, 30)) -> dict:
    call = {"id": "call_" + uuid.uuid4().hex[:10], "type": "function",
            "function": {"name": name, "arguments": json.dumps(arguments, ensure_ascii=False)}}
    return completion({"role": "assistant", "content": None, "tool_calls": [call]}, "tool_calls", tokens)


def text(content: str, tokens: tuple[int, int] = (160, 25)) -> dict:
    return completion({"role": "assistant", "content": content}, "stop", tokens)


def violations_of(body, headers: dict) -> list[str]:
    """What in this request the chat-completions API does not allow."""
    problems = []
    if headers.get("authorization") != f"Bearer {API_KEY}":
        problems.append("Authorization is not 'Bearer <the key>'")
    if not headers.get("content-type", "").startswith("application/json"):
        problems.append("Content-Type is not application/json")
    if not isinstance(body, dict):
        return [*problems, "the body is not a JSON object"]
    problems += [f"unknown key {k!r}" for k in set(body) - BODY_KEYS]
    if not isinstance(body.get("model"), str) or not body["model"]:
        problems.append("model must be a non-empty string")
    if "temperature" in body and not (isinstance(body["temperature"], (int, float)) and 0 <= body["temperature"] <= 2):
        problems.append("temperature must be a number from 0 to 2")
    if "max_tokens" in body and not (isinstance(body["max_tokens"], int) and body["max_tokens"] > 0):
        problems.append("max_tokens must be a positive integer")
    problems += _messages_problems(body.get("messages"))
    problems += _tools_problems(body)
    return problems


def _messages_problems(messages) -> list[str]:
    if not isinstance(messages, list) or not messages:
        return ["messages must be a non-empty list"]
    problems, open_calls = [], set()
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ROLES:
            problems.append(f"messages[{i}] has no valid role")
            continue
        if m["role"] == "assistant" and m.get("tool_calls"):
            for call in m["tool_calls"]:
                if call.get("type") != "function" or not isinstance(call.get("function", {}).get("arguments"), str):
                    problems.append(f"messages[{i}].tool_calls: each needs type=function and string arguments")
                open_calls.add(call.get("id"))
        elif m["role"] == "tool":
            if m.get("tool_call_id") not in open_calls:
                problems.append(f"messages[{i}] (tool) answers no tool call of an earlier assistant message")
            if not isinstance(m.get("content"), str):
                problems.append(f"messages[{i}] (tool) content must be a string")
        elif not isinstance(m.get("content"), str):
            problems.append(f"messages[{i}] ({m['role']}) content must be a string")
    return problems


def _tools_problems(body: dict) -> list[str]:
    tools, problems = body.get("tools"), []
    if tools is None:
        return ["tool_choice without tools"] if "tool_choice" in body else []
    if not isinstance(tools, list) or not tools:
        return ["tools must be a non-empty list"]
    for i, tool in enumerate(tools):
        function = tool.get("function") if isinstance(tool, dict) else None
        if tool.get("type") != "function" or not isinstance(function, dict):
            problems.append(f"tools[{i}] must be {{type: function, function: {{...}}}}")
            continue
        if not FUNCTION_NAME.match(str(function.get("name"))):
            problems.append(f"tools[{i}].function.name {function.get('name')!r} is not a valid name")
        if not isinstance(function.get("description", ""), str):
            problems.append(f"tools[{i}].function.description must be a string")
        parameters = function.get("parameters", {})
        if not isinstance(parameters, dict) or parameters.get("type") != "object":
            problems.append(f"tools[{i}].function.parameters must be a JSON schema of an object")
    choice = body.get("tool_choice", "auto")
    if choice not in ("auto", "none", "required") and not (isinstance(choice, dict) and choice.get("type") == "function"):
        problems.append("tool_choice must be auto, none, required or a named function")
    return problems


class FakeOpenAI:
    """Serve scripted completions on 127.0.0.1; ``base_url`` is what an Assistant points at."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.violations: list[str] = []
        self._script: list = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def script(self, *answers) -> None:
        with self._lock:
            self._script = list(answers)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def __enter__(self) -> FakeOpenAI:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, answer = fake._answer(self.path, {k.lower(): v for k, v in self.headers.items()}, raw)
                if isinstance(answer, Stall):
                    if fake._stopping.wait(answer.seconds):
                        return
                    status, answer = 200, text("too late")
                data = json.dumps(answer).encode()
                try:
                    self.send_response(status)
                    for name, value in {"Content-Type": "application/json", "Content-Length": str(len(data)),
                                        "Connection": "close"}.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (its timeout): what the timeout test wants

            def log_message(self, *args) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def _answer(self, path: str, headers: dict, raw: bytes):
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        problems = [f"path {path} is not {PATH}"] if path != PATH else []
        problems += violations_of(body, headers)
        with self._lock:
            self.requests.append({"body": body, "headers": headers})
            if problems:
                self.violations.extend(problems)
                return 400, {"error": {"message": "; ".join(problems), "type": "invalid_request_error"}}
            if not self._script:
                self.violations.append("a request arrived after the script ran out")
                return 500, {"error": {"message": "no scripted answer", "type": "server_error"}}
            item = self._script.pop(0)
            return item if isinstance(item, tuple) else (200, item)  # (status, body) scripts an error
