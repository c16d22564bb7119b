"""One turn of a WhatsApp chat with an assistant: from the inbound message to the reply text.

``reply()`` builds the chat (system prompt, the contact, the last N messages of the chat in
both directions), asks the model, runs the tools it calls (at most ``max_tool_rounds``
rounds), and returns a ``Turn``: the reply (or the handover), the transcript, every tool
call and the tokens spent. It sends nothing: the caller does (the ASSISTANT target).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from assistants import provider, tools as toolbox
from assistants.models import ESCALATE, Assistant
from whatsapp.models import Message

TOOL_RESULT_CHARS = 8000  # what one tool result may take of the model's context


@dataclass
class Turn:
    messages: list[dict]
    reply: str = ""
    escalation: str = ""  # why the model handed over; then the reply is the assistant's handover text
    error: str = ""
    retryable: bool = False
    timed_out: bool = False
    tool_calls: list[dict] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model_calls: int = 0
    latency_ms: int = 0

    @property
    def ok(self) -> bool:
        return not self.error

    def fail(self, error: str, retryable: bool = False, timed_out: bool = False) -> Turn:
        # Once a tool ran, a new attempt would run it again (book twice): not retried then.
        self.error, self.retryable, self.timed_out = error, retryable and not self.tool_calls, timed_out
        return self

    def as_result(self) -> dict:
        return {"reply": self.reply, "escalation": self.escalation, "transcript": self.messages,
                "tool_calls": self.tool_calls, "model_calls": self.model_calls, "latency_ms": self.latency_ms,
                "usage": {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                          "total_tokens": self.prompt_tokens + self.completion_tokens}}


def chat_messages(assistant: Assistant, channel_id: int, inbound: dict, exclude_run_id: int | None = None) -> list[dict]:
    """System prompt with the contact, then the chat's last N messages, then the inbound text."""
    system = f"{assistant.system_prompt.strip()}\n\n{contact_lines(inbound)}"
    history = (Message.objects.filter(channel_id=channel_id, chat_id=inbound.get("chat") or "")
               .exclude(text="").exclude(status__in=[Message.Status.FAILED, Message.Status.QUEUED])
               .order_by("-created_at", "-pk"))
    if inbound.get("message_id"):
        history = history.exclude(direction=Message.Direction.IN, waha_message_id=inbound["message_id"])
    if exclude_run_id:
        history = history.exclude(run_id=exclude_run_id)
    earlier = reversed(list(history[: assistant.history_length])) if assistant.history_length else []
    return [{"role": "system", "content": system},
            *({"role": "user" if m.direction == Message.Direction.IN else "assistant", "content": m.text}
              for m in earlier),
            {"role": "user", "content": str(inbound.get("text") or "")}]


def contact_lines(inbound: dict) -> str:
    """What the model knows of who writes: the number, and the name and fields when the input has them."""
    number = str(inbound.get("from") or "").split("@", 1)[0]
    lines = [f"Contact's WhatsApp number: +{number}" if number.isdigit() else f"Contact: {number}"]
    if inbound.get("name"):
        lines.append(f"Contact's name: {inbound['name']}")
    for key, value in (inbound.get("fields") or {}).items() if isinstance(inbound.get("fields"), dict) else ():
        lines.append(f"{key}: {value}")
    return "\n".join(lines)


def reply(assistant: Assistant, channel_id: int, inbound: dict, chrono=None, run=None,
          builtins: dict[str, toolbox.Builtin] | None = None) -> Turn:
    """Ask the model until it answers in text (or hands over), running the tools it calls.

    ``builtins``: extra tools the caller implements (the owner assistant's read-only ones).
    """
    turn = Turn(messages=chat_messages(assistant, channel_id, inbound, exclude_run_id=getattr(run, "pk", None)))
    offered = {**toolbox.offered(assistant), **(builtins or {})}
    definitions = toolbox.definitions(offered)
    for round_ in range(assistant.max_tool_rounds + 1):
        completion = _ask(assistant, turn, definitions)
        if completion is None:
            return turn
        if not completion.tool_calls:
            turn.reply = completion.content.strip()
            return turn if turn.reply else turn.fail("The model answered with empty text: nothing was sent.")
        if round_ == assistant.max_tool_rounds:
            return turn.fail(f"The model still asked for tools after {assistant.max_tool_rounds} rounds: "
                             "nothing was sent.")
        for call in completion.tool_calls:
            if call.name == ESCALATE:
                return _escalate(assistant, turn, call, channel_id, inbound, run)
            turn.messages.append(_run_tool(offered, call, turn, chrono, run))
    return turn


def _ask(assistant: Assistant, turn: Turn, definitions: list[dict]) -> provider.Completion | None:
    """One model call, within the day's budget; None (the turn failed) when it cannot be made."""
    used = assistant.tokens_used_today()
    if used >= assistant.daily_token_budget:
        turn.fail(f"Daily token budget reached ({used} of {assistant.daily_token_budget} tokens today): "
                  "the assistant does not reply until tomorrow.")
        return None
    started = time.monotonic()
    try:
        completion = provider.complete(assistant, turn.messages, definitions)
    except provider.ProviderError as exc:
        turn.latency_ms += int((time.monotonic() - started) * 1000)
        turn.fail(str(exc), retryable=exc.retryable, timed_out=exc.timed_out)
        return None
    assistant.record_usage(completion.prompt_tokens, completion.completion_tokens)
    turn.model_calls += 1
    turn.latency_ms += completion.latency_ms
    turn.prompt_tokens += completion.prompt_tokens
    turn.completion_tokens += completion.completion_tokens
    turn.messages.append(_assistant_message(completion.message))
    return completion


def _assistant_message(message: dict) -> dict:
    """The model's message as the next request must carry it back (role, content, tool_calls)."""
    kept = {"role": "assistant", "content": message.get("content")}
    if message.get("tool_calls"):
        kept["tool_calls"] = message["tool_calls"]
    return kept


def _run_tool(offered: dict, call: provider.ToolCall, turn: Turn, chrono, run) -> dict:
    tool = offered.get(call.name)
    if isinstance(tool, toolbox.Builtin):
        content, record = toolbox.call_builtin(tool, call.name, call.arguments)
        turn.tool_calls.append(record)
    elif tool is None:
        content = {"error": f"There is no tool named {call.name!r}."}
        turn.tool_calls.append({"tool": call.name, "arguments": call.arguments, "ok": False,
                                "error": content["error"]})
    else:
        content, record = toolbox.call_function(tool, call.arguments, chrono=chrono, run=run)
        turn.tool_calls.append(record)
    text = json.dumps(content, ensure_ascii=False, default=str)[:TOOL_RESULT_CHARS]
    return {"role": "tool", "tool_call_id": call.id, "content": text}


def _escalate(assistant: Assistant, turn: Turn, call: provider.ToolCall, channel_id: int, inbound: dict,
              run) -> Turn:
    """Pause the assistant in this chat; the reply becomes the handover text."""
    arguments = call.arguments if isinstance(call.arguments, dict) else {}
    reason = str(arguments.get("reason") or "The model asked for a person.")[:1000]
    assistant.pause_chat(channel_id, str(inbound.get("chat") or ""), reason, run_id=getattr(run, "pk", None))
    turn.tool_calls.append({"tool": ESCALATE, "arguments": arguments, "ok": True,
                            "result": f"paused for {assistant.pause_minutes} minutes"})
    turn.escalation, turn.reply = reason, assistant.handover_text
    return turn
