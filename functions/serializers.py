"""REST representations of user functions, and the FUNCTION part of a chrono body.

A function is validated by the model (``UserFunction.full_clean``: RestrictedPython
compile, limits), so the API refuses what the admin refuses, keyed by the same fields.

``ChronoWithFunctionSerializer`` lets one request create a chrono *and* its function,
as the original system's bodies do (DESIGN.md §8: ``functionCode``, ``functionLimits``).
"""

from __future__ import annotations

from collections.abc import Mapping

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from rest_framework import serializers

from automations.serializers import ChronoSerializer, field_name, refuse_unknown_keys
from chronoflow import secrets
from functions.models import UserFunction

# functionLimits keys (camelCase or snake_case) → UserFunction fields.
LIMIT_FIELDS = {
    "timeout_ms": "timeout_ms", "max_http": "max_http", "max_messages": "max_messages",
    "max_memory_mb": "max_memory_mb", "max_memory": "max_memory_mb",
}


def _keyed(exc: DjangoValidationError, rename: Mapping[str, str] | None = None) -> dict:
    if not hasattr(exc, "error_dict"):
        return {"non_field_errors": exc.messages}
    rename = rename or {}
    errors: dict[str, list[str]] = {}
    for field, messages in exc.message_dict.items():
        key = rename.get(field, "non_field_errors" if field == "__all__" else field)
        errors.setdefault(key, []).extend(messages)
    return errors


class UserFunctionSerializer(serializers.ModelSerializer):
    class Meta:
        model = UserFunction
        fields = [
            "id", "name", "code", "runtime", "timeout_ms", "max_http", "max_messages", "max_memory_mb",
            "state", "env", "version", "checksum", "fallback_channel", "created_at", "updated_at",
        ]
        read_only_fields = ["version", "checksum", "created_at", "updated_at"]
        extra_kwargs = {"code": {"trim_whitespace": False}}

    def to_representation(self, instance):
        data = super().to_representation(instance)
        # env holds the function's credentials: write-only, every value shown masked (chronoflow/secrets.py).
        data["env"] = secrets.mask_values(data.get("env"))
        return data

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            refuse_unknown_keys(self, data, rename=lambda k: LIMIT_FIELDS.get(field_name(k), field_name(k)))
        if isinstance(data, Mapping) and not hasattr(data, "getlist"):
            data = {LIMIT_FIELDS.get(field_name(k), field_name(k)) if isinstance(k, str) else k: v
                    for k, v in data.items()}
        return super().to_internal_value(data)

    def validate(self, attrs: dict) -> dict:
        if "env" in attrs:  # MASK sent back keeps the stored value
            attrs["env"] = secrets.keep_masked(attrs["env"], getattr(self.instance, "env", None))
        function = self.instance if self.instance is not None else UserFunction()
        for name, value in attrs.items():
            setattr(function, name, value)
        try:
            function.full_clean(exclude=["version", "checksum"], validate_unique=False)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(_keyed(exc)) from None
        return attrs


class RunRequestSerializer(serializers.Serializer):
    input = serializers.JSONField(required=False, allow_null=True, default=None)


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
                f"Unknown limit(s) {', '.join(map(str, unknown))}; use timeoutMs, maxHttp, maxMessages, maxMemoryMb."]})
        for key, value in limits.items():
            setattr(function, LIMIT_FIELDS[field_name(str(key))], value)
        try:
            function.full_clean(exclude=["version", "checksum"])
        except DjangoValidationError as exc:
            rename = {"code": "function_code", "name": "function_name", **{f: "function_limits" for f in LIMIT_FIELDS.values()}}
            raise serializers.ValidationError(_keyed(exc, rename)) from None
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
