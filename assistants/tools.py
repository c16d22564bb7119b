"""The tools an assistant offers the model, and running one call of them.

A user function runs in the sandbox exactly as a FUNCTION run does
(``function.run_once(input=arguments, chrono=..., run=...)``); its return value goes back
to the model. ``escalate`` is built in: the conversation hands the chat to a person.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import jsonschema

from assistants.models import ESCALATE, Assistant, AssistantTool

ESCALATE_TOOL = {
    "type": "function",
    "function": {
        "name": ESCALATE,
        "description": ("Hand the conversation over to a person of the team: when the contact asks for a person, "
                        "is upset, or needs something you cannot do with your other tools. You stop answering "
                        "this chat; the contact is told a person will answer."),
        "parameters": {
            "type": "object",
            "properties": {"reason": {"type": "string", "description": "Why a person should take over, in one line."}},
            "required": ["reason"],
        },
    },
}
# What the model reads when a function failed: never the traceback (it may repeat it to the contact).
TOOL_FAILED = {"error": "The tool failed. Tell the contact you could not do it right now."}


@dataclass
class Builtin:
    """A tool the caller implements in-process: read-only helpers, never user code."""

    description: str
    handler: Callable[[dict], Any]
    parameters: dict | None = None

    @property
    def schema(self) -> dict:
        return self.parameters or {"type": "object", "properties": {}}


def offered(assistant: Assistant) -> dict[str, AssistantTool]:
    """The assistant's function tools by the name the model calls them."""
    tools = assistant.assistant_tools.select_related("function").order_by("pk")
    return {tool.tool_name: tool for tool in tools}


def definitions(tools: dict[str, "AssistantTool | Builtin"]) -> list[dict]:
    """The ``tools`` array of the chat-completions request: each function, then escalate."""
    return [*({"type": "function", "function": {"name": name, "description": tool.description,
                                                "parameters": tool.schema}}
              for name, tool in tools.items()), ESCALATE_TOOL]


def arguments_problem(tool: "AssistantTool | Builtin", arguments) -> str:
    """Why the model's arguments do not fit the tool's schema ('' when they do)."""
    if not isinstance(arguments, dict):
        return "The arguments must be a JSON object."
    try:
        jsonschema.validate(arguments, tool.schema)
    except jsonschema.ValidationError as exc:
        return f"The arguments do not fit the schema: {exc.message}"
    except jsonschema.SchemaError:
        return "The tool's schema is invalid."
    return ""


def call_function(tool: AssistantTool, arguments, chrono=None, run=None) -> tuple[object, dict]:
    """Run the function with the arguments as ctx.input: (what the model reads, what the run records)."""
    problem = arguments_problem(tool, arguments)
    if problem:
        return {"error": problem}, {"tool": tool.tool_name, "arguments": arguments, "ok": False, "error": problem}
    report = tool.function.run_once(input=arguments, chrono=chrono, run=run)
    record = {"tool": tool.tool_name, "function": tool.function.name, "arguments": arguments, "ok": report.ok,
              "result": report.value, "error": report.error_text, "logs": report.logs[-20:],
              "duration_ms": report.duration_ms}
    return (report.value if report.ok else TOOL_FAILED), record


def call_builtin(tool: Builtin, name: str, arguments) -> tuple[object, dict]:
    problem = arguments_problem(tool, arguments)
    if problem:
        return {"error": problem}, {"tool": name, "arguments": arguments, "ok": False, "error": problem}
    value = tool.handler(arguments)
    return value, {"tool": name, "arguments": arguments, "ok": True, "result": value}
