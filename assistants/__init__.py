"""AI assistants that answer WhatsApp conversations (issue 18).

An ``Assistant`` is a system prompt, a model behind any OpenAI-compatible chat-completions
endpoint, and tools (user functions run in the sandbox, plus the built-in ``escalate``).
``conversation.reply`` is one turn of a chat; the ASSISTANT target
(automations/targets/assistant.py) calls it for each inbound message and sends the answer.
Imports go one way: automations -> assistants -> functions -> whatsapp -> chronoflow.
"""
