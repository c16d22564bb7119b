"""Admin of assistants: prompt, provider (key write-only), limits, tools inline; pauses and usage."""

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from assistants.models import Assistant, AssistantPause, AssistantTool, AssistantUsage
from chronoflow import secrets


class AssistantForm(forms.ModelForm):
    class Meta:
        model = Assistant
        fields = "__all__"
        widgets = {"api_key": forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and self.instance.api_key:
            self.fields["api_key"].help_text = _("A key is stored (not shown). Leave empty to keep it; "
                                                 "type a new one to replace it.")

    def clean_api_key(self) -> str:
        value = self.cleaned_data.get("api_key") or ""
        if value in ("", secrets.MASK) and self.instance.pk:
            return self.instance.api_key  # write-only: an empty box keeps what is stored
        return value


class AssistantToolInline(admin.TabularInline):
    model = AssistantTool
    extra = 1
    fields = ["function", "name", "description", "parameters"]


@admin.register(Assistant)
class AssistantAdmin(admin.ModelAdmin):
    form = AssistantForm
    inlines = [AssistantToolInline]
    list_display = ["name", "model", "base_url", "daily_token_budget", "used_today"]
    search_fields = ["name", "model"]
    readonly_fields = ["used_today", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["name", "system_prompt"]}),
        (_("Provider"), {"fields": ["model", "base_url", "api_key", "timeout_ms"],
                         "description": _("Any OpenAI-compatible chat-completions API (OpenAI, Ollama, vLLM, "
                                          "OpenRouter...).")}),
        (_("Limits"), {"fields": ["temperature", "max_tokens", "daily_token_budget", "used_today", "history_length",
                                  "max_tool_rounds"]}),
        (_("Handover"), {"fields": ["pause_minutes", "handover_text"]}),
        (_("Owners"), {"fields": ["owner_numbers", "owner_assistant"]}),
        (_("Dates"), {"fields": ["created_at", "updated_at"], "classes": ["collapse"]}),
    ]

    @admin.display(description=_("Tokens used today"))
    def used_today(self, assistant: Assistant) -> int:
        return assistant.tokens_used_today() if assistant.pk else 0


@admin.register(AssistantPause)
class AssistantPauseAdmin(admin.ModelAdmin):
    list_display = ["assistant", "chat_id", "until", "reason", "created_at"]
    list_filter = ["assistant"]
    search_fields = ["chat_id", "reason"]
    readonly_fields = ["assistant", "channel", "chat_id", "reason", "run_id", "created_at"]
    fields = ["assistant", "channel", "chat_id", "until", "reason", "run_id", "created_at"]  # until: end it early

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(AssistantUsage)
class AssistantUsageAdmin(admin.ModelAdmin):
    list_display = ["assistant", "day", "prompt_tokens", "completion_tokens", "requests"]
    list_filter = ["assistant"]
    readonly_fields = ["assistant", "day", "prompt_tokens", "completion_tokens", "requests"]

    def has_add_permission(self, request) -> bool:
        return False
