"""Assistants, the functions they may call, pauses per chat and tokens spent per day."""

import re
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from whatsapp import recipients

# OpenAI's rule for a function's name; other compatible servers follow it.
TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
ESCALATE = "escalate"  # the built-in tool's name; no user function may take it
DEFAULT_HANDOVER_TEXT = "Obrigado! Uma pessoa da nossa equipe vai responder você em breve."


def today() -> date:
    """The budget's day, in DEFAULT_TIMEZONE: a business's day, not UTC's."""
    return timezone.localdate(timezone=ZoneInfo(settings.DEFAULT_TIMEZONE))


class Assistant(models.Model):
    """A language model that answers a WhatsApp chat, with a prompt, limits and tools."""

    name = models.CharField(_("name"), max_length=120, unique=True)
    system_prompt = models.TextField(_("system prompt"), help_text=_("What the assistant is and how it answers."))
    model = models.CharField(_("model"), max_length=200, help_text=_("The provider's model name, e.g. gpt-4o-mini or llama3.1."))
    base_url = models.URLField(
        _("provider base URL"), max_length=500,
        help_text=_("An OpenAI-compatible API, up to /v1: https://api.openai.com/v1, http://ollama:11434/v1, "
                    "https://openrouter.ai/api/v1. /chat/completions is added."),
    )
    api_key = models.CharField(_("API key"), max_length=500, blank=True, help_text=_("Write-only; empty for a local server."))
    temperature = models.FloatField(_("temperature"), default=0.3, validators=[MinValueValidator(0), MaxValueValidator(2)])
    max_tokens = models.PositiveIntegerField(
        _("maximum tokens per reply"), default=500, validators=[MinValueValidator(1), MaxValueValidator(32_000)])
    daily_token_budget = models.PositiveIntegerField(
        _("daily token budget"), default=200_000,
        help_text=_("Tokens (prompt + completion) per day; past it the assistant stops replying until the next day."))
    history_length = models.PositiveSmallIntegerField(
        _("history length"), default=20, validators=[MaxValueValidator(200)],
        help_text=_("How many earlier messages of the chat (both directions) the model sees."))
    max_tool_rounds = models.PositiveSmallIntegerField(
        _("maximum tool rounds"), default=4, validators=[MinValueValidator(1), MaxValueValidator(10)],
        help_text=_("How many times per message the model may call tools before it must reply."))
    timeout_ms = models.PositiveIntegerField(
        _("provider timeout (ms)"), default=30_000, validators=[MinValueValidator(100), MaxValueValidator(300_000)])
    pause_minutes = models.PositiveIntegerField(
        _("pause after escalation (minutes)"), default=240, validators=[MinValueValidator(1)],
        help_text=_("How long the assistant stays silent in a chat it handed over to a person."))
    handover_text = models.TextField(
        _("handover text"), default=DEFAULT_HANDOVER_TEXT,
        help_text=_("What the contact is told when the assistant hands the chat over to a person."))
    owner_numbers = models.JSONField(
        _("owner numbers"), default=list, blank=True,
        help_text=_('Phone numbers of the business\'s owners, e.g. ["+55 11 99999-9999"]: their messages go to '
                    'the owner assistant below instead.'))
    owner_assistant = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("owner assistant"),
        help_text=_("Answers the owner numbers, with read-only tools over ChronoFlow (runs today, failing chronos, "
                    "channels not working)."))
    tools = models.ManyToManyField("functions.UserFunction", verbose_name=_("tools"), through="AssistantTool", blank=True, related_name="assistants")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("assistant")
        verbose_name_plural = _("assistants")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        try:
            self.owner_numbers = [recipients.normalise(n) for n in self.owner_numbers or []]
        except (recipients.InvalidRecipient, TypeError) as exc:
            raise ValidationError({"owner_numbers": str(exc)}) from None
        if self.owner_assistant_id and self.owner_assistant_id == self.pk:
            raise ValidationError({"owner_assistant": _("Choose another assistant for the owners.")})

    def for_sender(self, sender: str) -> "tuple[Assistant, bool]":
        """Who answers ``sender``: (the owner assistant, True) for an owner number, else (self, False)."""
        if self.owner_assistant_id and sender in (self.owner_numbers or []):
            return self.owner_assistant, True
        return self, False

    @property
    def completions_url(self) -> str:
        return self.base_url.rstrip("/") + "/chat/completions"

    # --- Budget ----------------------------------------------------------------------------

    def tokens_used_today(self) -> int:
        row = self.usage.filter(day=today()).first()
        return row.total_tokens if row else 0

    def budget_left(self) -> int:
        return max(self.daily_token_budget - self.tokens_used_today(), 0)

    def record_usage(self, prompt_tokens: int, completion_tokens: int) -> None:
        """Add one provider call's tokens to today's row (an UPDATE with F(): concurrent runs add up)."""
        day = today()
        AssistantUsage.objects.get_or_create(assistant=self, day=day)
        AssistantUsage.objects.filter(assistant=self, day=day).update(
            prompt_tokens=F("prompt_tokens") + prompt_tokens, completion_tokens=F("completion_tokens") + completion_tokens,
            requests=F("requests") + 1)

    # --- Pauses ----------------------------------------------------------------------------

    def pause_for(self, channel_id: int, chat_id: str, now=None) -> "AssistantPause | None":
        """The pause in force for this chat, if any."""
        now = now or timezone.now()
        return (self.pauses.filter(channel_id=channel_id, chat_id=chat_id, until__gt=now).order_by("-until").first())

    def pause_chat(self, channel_id: int, chat_id: str, reason: str, run_id: int | None = None) -> "AssistantPause":
        until = timezone.now() + timedelta(minutes=self.pause_minutes)
        return AssistantPause.objects.create(assistant=self, channel_id=channel_id, chat_id=chat_id, until=until,
                                             reason=reason[:1000], run_id=run_id)


class AssistantTool(models.Model):
    """A user function the assistant may call: the name, description and argument schema the model sees."""

    assistant = models.ForeignKey(Assistant, verbose_name=_("assistant"), on_delete=models.CASCADE, related_name="assistant_tools")
    function = models.ForeignKey("functions.UserFunction", verbose_name=_("function"), on_delete=models.PROTECT, related_name="assistant_tools")
    name = models.CharField(
        _("tool name"), max_length=64, blank=True,
        help_text=_("The name the model calls it by (letters, digits, '_' and '-'); empty: the function's name."))
    description = models.TextField(_("description"), help_text=_("When to call it and what it returns, for the model."))
    parameters = models.JSONField(
        _("arguments (JSON schema)"), default=dict, blank=True,
        help_text=_('A JSON schema of an object, e.g. {"type": "object", "properties": {"pet": {"type": "string"}}, '
                    '"required": ["pet"]}. The arguments reach the function as ctx.input.'))

    class Meta:
        verbose_name = _("tool")
        verbose_name_plural = _("tools")
        constraints = [models.UniqueConstraint(fields=["assistant", "function"], name="one_tool_per_function")]

    def __str__(self) -> str:
        return self.tool_name

    @property
    def tool_name(self) -> str:
        return self.name or (self.function.name if self.function_id else "")

    def clean(self) -> None:
        errors = {}
        name = self.tool_name
        if not TOOL_NAME.match(name):
            errors["name"] = _("The model needs a name of 1 to 64 letters, digits, '_' or '-'; %(name)r is not. "
                               "Give the tool a name.") % {"name": name}
        elif name == ESCALATE:
            errors["name"] = _("'escalate' is the built-in handover tool; choose another name.")
        problem = schema_problem(self.parameters)
        if problem:
            errors["parameters"] = problem
        if errors:
            raise ValidationError(errors)

    @property
    def schema(self) -> dict:
        return self.parameters or {"type": "object", "properties": {}}


def schema_problem(value) -> str:
    """Why ``value`` is not a usable arguments schema ('' when it is): an object schema, or empty."""
    if value in ({}, None):
        return ""
    if not isinstance(value, dict) or value.get("type") != "object":
        return str(_('The arguments schema must be a JSON object schema: {"type": "object", "properties": {...}}.'))
    if not isinstance(value.get("properties", {}), dict):
        return str(_('"properties" must be an object of argument names to schemas.'))
    return ""


class AssistantPause(models.Model):
    """The assistant is silent in one chat until ``until``: it handed over to a person."""

    assistant = models.ForeignKey(Assistant, verbose_name=_("assistant"), on_delete=models.CASCADE, related_name="pauses")
    channel = models.ForeignKey("whatsapp.Channel", verbose_name=_("channel"), on_delete=models.CASCADE, related_name="+")
    chat_id = models.CharField(_("chat id"), max_length=128)
    until = models.DateTimeField(_("until"))
    reason = models.TextField(_("reason"), blank=True)
    run_id = models.BigIntegerField(_("run id"), null=True, blank=True, help_text=_("The run that paused it."))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("pause")
        verbose_name_plural = _("pauses")
        indexes = [models.Index(fields=["assistant", "channel", "chat_id", "-until"], name="assistant_pause_chat")]

    def __str__(self) -> str:
        return f"{self.chat_id} until {self.until:%Y-%m-%d %H:%M}"


class AssistantUsage(models.Model):
    """Tokens one assistant spent on one day (DEFAULT_TIMEZONE), the budget's measure."""

    assistant = models.ForeignKey(Assistant, verbose_name=_("assistant"), on_delete=models.CASCADE, related_name="usage")
    day = models.DateField(_("day"))
    prompt_tokens = models.PositiveBigIntegerField(_("prompt tokens"), default=0)
    completion_tokens = models.PositiveBigIntegerField(_("completion tokens"), default=0)
    requests = models.PositiveIntegerField(_("requests"), default=0)

    class Meta:
        ordering = ["-day"]
        verbose_name = _("usage")
        verbose_name_plural = _("usage")
        constraints = [models.UniqueConstraint(fields=["assistant", "day"], name="one_usage_row_per_day")]

    def __str__(self) -> str:
        return f"{self.assistant} {self.day}: {self.total_tokens}"

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens
