"""REST representations of chronos and runs.

Chronos are validated by the model itself (``Chrono.full_clean``), so the API refuses
exactly what the admin refuses, with the errors keyed by the same field names.
"""

from collections.abc import Mapping
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers
from rest_framework.settings import api_settings

from automations.events.serializers import EVENT_FIELDS, EventConfigFields
from automations.models import Chrono, ChronoRun
from chronoflow import secrets
from chronoflow.bodykeys import field_name, refuse_unknown_keys, snake_case_keys
from chronoflow.jsonbody import JSON_FIELD_MAPPING
from functions.models import UserFunction
from functions.serializers import LIMIT_FIELDS, keyed_errors
from whatsapp.models import Channel

# Mapping fields whose secret-named entries (Authorization, X-Api-Key, ...) are write-only.
SECRET_MAPPINGS = ("headers", "extras")


def refuse_two_schedules(data: Mapping) -> None:
    """``cron`` is the original system's name of ``schedule``: both, saying different things, is a 400."""
    if "cron" in data and "schedule" in data and data.get("cron") != data.get("schedule"):
        raise serializers.ValidationError({"schedule": [
            _("cron and schedule are the same field and disagree (%(cron)r, %(schedule)r); send one.")
            % {"cron": data.get("cron"), "schedule": data.get("schedule")}]})


class ChannelField(serializers.PrimaryKeyRelatedField):
    """A channel by its id: a number, or a string as the original system's bodies send it
    (``"channelId": "3"``), which may also be the channel's WAHA session name (``"front"``)."""

    default_error_messages = {
        "does_not_exist": _("No channel has the id or session name {pk_value!r}."),
        "incorrect_type": _("A channel is given by its id (a number) or its session name, not a {data_type}."),
    }

    def to_internal_value(self, data):
        if isinstance(data, str):
            data = data.strip()
            if not data.isdigit():
                channel = self.get_queryset().filter(session_name=data).first()
                return channel if channel is not None else self.fail("does_not_exist", pk_value=data)
        return super().to_internal_value(data)


class ChronoSerializer(EventConfigFields, serializers.ModelSerializer):
    serializer_field_mapping = {**serializers.ModelSerializer.serializer_field_mapping, **JSON_FIELD_MAPPING}

    channel = ChannelField(queryset=Channel.objects.all(), required=False, allow_null=True,
                           help_text=Chrono._meta.get_field("channel").help_text)
    # The stored name, not a MEDIA_URL link: nothing serves MEDIA_URL (uploads go to WAHA inline).
    attachment_file = serializers.FileField(required=False, allow_null=True, use_url=False,
                                            help_text=Chrono._meta.get_field("attachment_file").help_text)
    schedule_description = serializers.SerializerMethodField()
    next_fire_times = serializers.SerializerMethodField()
    fire_time_notes = serializers.SerializerMethodField()

    class Meta:
        model = Chrono
        fields = [
            "id", "name", "description",
            "schedule", "timezone", "schedule_kind", "schedule_expression", "run_at",
            "schedule_description", "next_fire_times", "fire_time_notes",
            "target_type", "method", "url", "headers", "payload", "timeout_ms",
            "channel", "message_template", "recipients", "attachment_kind", "attachment_url", "attachment_file",
            "attachment_filename", "attachment_mimetype", "function", "extras", "assistant", "routine",
            "is_active", "is_recurring", "next_run_at", "last_run_at", "last_run_status", "last_error",
            "max_attempts", "backoff_ms", "misfire_policy", "catchup_window_s", "overlap_policy",
            "created_at", "updated_at", *EVENT_FIELDS,
        ]
        read_only_fields = [
            "schedule_kind", "schedule_expression", "run_at", "is_recurring", "next_run_at",
            "last_run_at", "last_run_status", "last_error", "created_at", "updated_at",
        ]

    # --- Reading ----------------------------------------------------------------------

    def get_schedule_description(self, chrono: Chrono) -> dict[str, str]:
        return {lang: chrono.describe_schedule(lang) for lang in ("en", "pt_BR")}

    def get_next_fire_times(self, chrono: Chrono) -> list[str]:
        zone = ZoneInfo(chrono.timezone)
        # In the chrono's zone, so an operator reads 08:00 for "todo dia às 08:00".
        return [when.astimezone(zone).isoformat() for when in chrono.next_fire_times(5)]

    def get_fire_time_notes(self, chrono: Chrono) -> list[dict[str, str]]:
        """The next five fire times that a DST gap moved off the wall time the schedule names."""
        zone = ZoneInfo(chrono.timezone)
        return [{"at": when.astimezone(zone).isoformat(), "en": note, "pt_BR": chrono.fire_time_note(when, "pt_BR")}
                for when in chrono.next_fire_times(5) if (note := chrono.fire_time_note(when, "en"))]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        for name in SECRET_MAPPINGS:  # write-only secrets: shown masked (chronoflow/secrets.py)
            if name in data:
                data[name] = secrets.mask_mapping(data[name])
        return data

    # --- Writing ----------------------------------------------------------------------

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            refuse_two_schedules(data)
            refuse_unknown_keys(self, data)
            data = snake_case_keys(data)
        return super().to_internal_value(data)

    def validate(self, attrs: dict) -> dict:
        for name in SECRET_MAPPINGS:  # MASK sent back keeps the stored secret (chronoflow/secrets.py)
            if name in attrs:
                attrs[name] = secrets.keep_masked(attrs[name], getattr(self.instance, name, None))
        chrono = self.chrono_from(attrs)
        try:
            chrono.full_clean(exclude=self._not_ours_to_validate(), validate_unique=False)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(_keyed_by_field(exc)) from None
        self._chrono = chrono
        return attrs

    def chrono_from(self, attrs: dict) -> Chrono:
        """The chrono these attrs describe, unsaved: the instance being edited, or a new one.

        Extension point: a subclass turning extra body keys (e.g. function code) into
        model values does it here, before the model validates the result.
        """
        self.take_event_config(attrs)  # message trigger and alerts: saved after the chrono (events/serializers.py)
        chrono = self.instance if self.instance is not None else Chrono()
        for name, value in attrs.items():
            setattr(chrono, name, value)
        return chrono

    def save_chrono(self, chrono: Chrono) -> Chrono:
        """Persist the validated chrono. Runs inside the create/update transaction.

        Extension point: save rows the chrono points at before calling super().
        """
        chrono.save()
        self.save_event_config(chrono)
        return chrono

    def create(self, validated_data: dict) -> Chrono:
        with transaction.atomic():
            return self.save_chrono(self._chrono)

    def update(self, instance: Chrono, validated_data: dict) -> Chrono:
        with transaction.atomic():
            return self.save_chrono(self._chrono)

    def _not_ours_to_validate(self) -> list[str]:
        # As a ModelForm does: fields the operator cannot set (schedule_kind, ...) are
        # filled in by Chrono.clean(), so checking them beforehand would only fail.
        writable = {name for name, field in self.fields.items() if not field.read_only}
        return [f.name for f in Chrono._meta.fields if f.name not in writable]


def _keyed_by_field(exc: DjangoValidationError) -> dict:
    if not hasattr(exc, "error_dict"):
        return {api_settings.NON_FIELD_ERRORS_KEY: exc.messages}
    return {
        api_settings.NON_FIELD_ERRORS_KEY if field == "__all__" else field: messages
        for field, messages in exc.message_dict.items()
    }


class ChronoRunSerializer(serializers.ModelSerializer):
    chrono_name = serializers.CharField(source="chrono.name", read_only=True)

    class Meta:
        model = ChronoRun
        fields = [
            "id", "chrono", "chrono_name", "scheduled_for", "trigger", "status", "attempt",
            "started_at", "finished_at", "duration_ms", "http_status", "response_snippet",
            "error_message", "result", "input", "attempts", "created_at",
        ]
        read_only_fields = fields


class ChronoWithFunctionSerializer(ChronoSerializer):
    """A chrono body that may carry its function's code (``function_code``/``functionCode``).

    With code, the chrono's function is created (named after the chrono) or, when the
    chrono already has one, updated (its version goes up); both are saved in the same
    transaction as the chrono, and a refusal of either saves neither.
    """

    function_code = serializers.CharField(required=False, write_only=True, trim_whitespace=False)
    function_limits = serializers.DictField(required=False, write_only=True)
    function_name = serializers.CharField(required=False, write_only=True, max_length=120)

    class Meta(ChronoSerializer.Meta):
        fields = [*ChronoSerializer.Meta.fields, "function_code", "function_limits", "function_name"]

    def chrono_from(self, attrs: dict):
        code = attrs.pop("function_code", None)
        limits = attrs.pop("function_limits", None)
        name = attrs.pop("function_name", None)
        chrono = super().chrono_from(attrs)
        self._inline_function = None
        if code is not None or limits is not None:
            self._inline_function = self._function_for(chrono, code, limits or {}, name)
            chrono.function = self._inline_function
        return chrono

    def save_chrono(self, chrono):
        function = getattr(self, "_inline_function", None)
        if function is not None:
            with transaction.atomic():
                function.save()
                chrono.function = function
                return super().save_chrono(chrono)
        return super().save_chrono(chrono)

    def _function_for(self, chrono, code: str | None, limits: dict, name: str | None) -> UserFunction:
        function = chrono.function if chrono.function_id else UserFunction(name=name or _free_name(chrono.name))
        if name:
            function.name = name
        if code is not None:
            function.code = code
        unknown = [key for key in limits if LIMIT_FIELDS.get(field_name(str(key))) is None]
        if unknown:
            raise serializers.ValidationError({"function_limits": [
                _("Unknown limit(s) %(names)s; use timeoutMs, maxHttp, maxMessages, maxMemoryMb.")
                % {"names": ", ".join(map(str, unknown))}]})
        for key, value in limits.items():
            setattr(function, LIMIT_FIELDS[field_name(str(key))], value)
        try:
            function.full_clean(exclude=["version", "checksum"])
        except DjangoValidationError as exc:
            rename = {"code": "function_code", "name": "function_name", **{f: "function_limits" for f in LIMIT_FIELDS.values()}}
            raise serializers.ValidationError(keyed_errors(exc, rename)) from None
        return function


def _free_name(base: str) -> str:
    """The chrono's name, or "name (2)", "name (3)"... when a function already has it."""
    base = (base or "function")[:110]
    taken = set(UserFunction.objects.filter(name__startswith=base).values_list("name", flat=True))
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base} ({n})"
    return candidate
