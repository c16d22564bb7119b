"""REST representation of assistants: the API key is write-only (shown as MASK, MASK keeps it)."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from rest_framework import serializers

from assistants.models import Assistant, AssistantTool
from chronoflow import secrets
from whatsapp import recipients


class AssistantToolSerializer(serializers.ModelSerializer):
    class Meta:
        model = AssistantTool
        fields = ["function", "name", "description", "parameters"]

    def validate(self, attrs: dict) -> dict:
        tool = AssistantTool(**attrs)
        try:
            tool.clean()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from None
        return attrs


class AssistantSerializer(serializers.ModelSerializer):
    tools = AssistantToolSerializer(many=True, required=False, source="assistant_tools")
    tokens_used_today = serializers.SerializerMethodField()

    class Meta:
        model = Assistant
        fields = ["id", "name", "system_prompt", "model", "base_url", "api_key", "temperature", "max_tokens",
                  "daily_token_budget", "tokens_used_today", "history_length", "max_tool_rounds", "timeout_ms",
                  "pause_minutes", "handover_text", "owner_numbers", "owner_assistant", "tools", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]
        extra_kwargs = {"system_prompt": {"trim_whitespace": False}}

    def get_tokens_used_today(self, assistant: Assistant) -> int:
        return assistant.tokens_used_today()

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["api_key"] = secrets.MASK if instance.api_key else ""  # write-only (chronoflow/secrets.py)
        return data

    def validate_api_key(self, value: str) -> str:
        if value == secrets.MASK:  # a GET → PUT round trip keeps the stored key
            return self.instance.api_key if self.instance is not None else ""
        return value

    def validate_owner_numbers(self, numbers) -> list[str]:
        if not isinstance(numbers, list):
            raise serializers.ValidationError(_("A list of phone numbers."))
        try:
            return [recipients.normalise(n) for n in numbers]
        except recipients.InvalidRecipient as exc:
            raise serializers.ValidationError(str(exc)) from None

    def validate_tools(self, tools: list[dict]) -> list[dict]:
        names = [(t.get("name") or t["function"].name) for t in tools]
        if len(set(names)) != len(names) or len({t["function"].pk for t in tools}) != len(tools):
            raise serializers.ValidationError(_("Each function and each tool name may appear once."))
        return tools

    @transaction.atomic
    def create(self, validated: dict) -> Assistant:
        tools = validated.pop("assistant_tools", [])
        assistant = super().create(validated)
        self._save_tools(assistant, tools)
        return assistant

    @transaction.atomic
    def update(self, instance: Assistant, validated: dict) -> Assistant:
        tools = validated.pop("assistant_tools", None)
        assistant = super().update(instance, validated)
        if tools is not None:  # given: the whole list (absent on a PATCH that leaves tools alone)
            assistant.assistant_tools.all().delete()
            self._save_tools(assistant, tools)
        return assistant

    @staticmethod
    def _save_tools(assistant: Assistant, tools: list[dict]) -> None:
        AssistantTool.objects.bulk_create(AssistantTool(assistant=assistant, **tool) for tool in tools)
