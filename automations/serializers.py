"""REST representations of chronos and runs.

Chronos are validated by the model itself (``Chrono.full_clean``), so the API refuses
exactly what the admin refuses, with the errors keyed by the same field names.
"""

import re
from collections.abc import Mapping
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers
from rest_framework.settings import api_settings

from automations.event_serializers import EVENT_FIELDS, EventConfigFields
from automations.models import Chrono, ChronoRun
from chronoflow import secrets

# Keys of the original NestJS bodies whose snake_case spelling is not our field name.
CAMEL_ALIASES = {"cron": "schedule", "channel_id": "channel", "function_id": "function"}
# Mapping fields whose secret-named entries (Authorization, X-Api-Key, ...) are write-only.
SECRET_MAPPINGS = ("headers", "extras")
_CAMEL_HUMP = re.compile(r"(?<=[a-z0-9])([A-Z])")


def field_name(key: str) -> str:
    """`targetType` → `target_type`, `cron` → `schedule`; snake_case keys pass unchanged."""
    name = _CAMEL_HUMP.sub(r"_\1", key).lower()
    return CAMEL_ALIASES.get(name, name)


def snake_case_keys(data: Mapping) -> Mapping:
    """Top-level camelCase keys of an original-system body → our field names.

    Only the top level: payload, headers and extras are the operator's data and keep
    their keys. When a body names a field both ways, the snake_case key wins. A form
    post (QueryDict) stays a QueryDict, so DRF still reads it as form input.
    """
    renamed = {key: field_name(key) if isinstance(key, str) else key for key in data}
    if all(new == old for old, new in renamed.items()):
        return data
    keep = [old for old, new in renamed.items() if new == old or new not in data]
    if isinstance(data, QueryDict):
        converted = QueryDict(mutable=True)
        for old in keep:
            converted.setlist(renamed[old], data.getlist(old))
        return converted
    return {renamed[old]: data[old] for old in keep}


# Form posts of the browsable API carry these beside the fields.
FORM_KEYS = {"csrfmiddlewaretoken"}


def refuse_unknown_keys(serializer: serializers.Serializer, data: Mapping, rename=field_name) -> None:
    """A 400 listing the body's keys that name no field (a typo would otherwise be ignored)."""
    unknown = [str(key) for key in data
               if not (isinstance(key, str) and (rename(key) in serializer.fields or key in FORM_KEYS
                                                 or key.startswith("_")))]
    if unknown:
        raise serializers.ValidationError({api_settings.NON_FIELD_ERRORS_KEY: [
            _("Unknown field(s): %(names)s.") % {"names": ", ".join(unknown)}]})


def refuse_two_schedules(data: Mapping) -> None:
    """``cron`` is the original system's name of ``schedule``: both, saying different things, is a 400."""
    if "cron" in data and "schedule" in data and data.get("cron") != data.get("schedule"):
        raise serializers.ValidationError({"schedule": [
            _("cron and schedule are the same field and disagree (%(cron)r, %(schedule)r); send one.")
            % {"cron": data.get("cron"), "schedule": data.get("schedule")}]})


class ChronoSerializer(EventConfigFields, serializers.ModelSerializer):
    schedule_description = serializers.SerializerMethodField()
    next_fire_times = serializers.SerializerMethodField()

    class Meta:
        model = Chrono
        fields = [
            "id", "name", "description",
            "schedule", "timezone", "schedule_kind", "schedule_expression", "run_at",
            "schedule_description", "next_fire_times",
            "target_type", "method", "url", "headers", "payload", "timeout_ms",
            "channel", "message_template", "recipients", "function", "extras",
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
        self.take_event_config(attrs)  # message trigger and alerts: saved after the chrono (event_serializers.py)
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
