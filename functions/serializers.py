"""REST representations of user functions, and the FUNCTION part of a chrono body.

A function is validated by the model (``UserFunction.full_clean``: RestrictedPython
compile, limits), so the API refuses what the admin refuses, keyed by the same fields.

The chrono body that carries its function's code (``functionCode``, ``functionLimits``)
is ``automations.serializers.ChronoWithFunctionSerializer``; it uses ``LIMIT_FIELDS`` and
``keyed_errors`` from here.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from chronoflow import secrets
from chronoflow.bodykeys import field_name, refuse_unknown_keys
from chronoflow.jsonbody import JSON_FIELD_MAPPING
from functions.models import UserFunction

# functionLimits keys (camelCase or snake_case) → UserFunction fields.
LIMIT_FIELDS = {
    "timeout_ms": "timeout_ms", "max_http": "max_http", "max_messages": "max_messages",
    "max_memory_mb": "max_memory_mb", "max_memory": "max_memory_mb",
}


def keyed_errors(exc: DjangoValidationError, rename: Mapping[str, str] | None = None) -> dict:
    if not hasattr(exc, "error_dict"):
        return {"non_field_errors": exc.messages}
    rename = rename or {}
    errors: dict[str, list[str]] = {}
    for field, messages in exc.message_dict.items():
        key = rename.get(field, "non_field_errors" if field == "__all__" else field)
        errors.setdefault(key, []).extend(messages)
    return errors


class UserFunctionSerializer(serializers.ModelSerializer):
    serializer_field_mapping = {**serializers.ModelSerializer.serializer_field_mapping, **JSON_FIELD_MAPPING}

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
            raise serializers.ValidationError(keyed_errors(exc)) from None
        return attrs


class RunRequestSerializer(serializers.Serializer):
    input = serializers.JSONField(required=False, allow_null=True, default=None)


# An object or null, spelled out: drf-spectacular would write a nullable nested serializer as
# allOf [$ref] + nullable, which strict OpenAPI 3.0 validators read as "never null".
@extend_schema_field({
    "type": "object", "nullable": True, "description": "null when ok",
    "properties": {"type": {"type": "string"}, "message": {"type": "string"},
                   "traceback": {"type": "array", "items": {"type": "string"}, "description": "The user's own lines only"}},
    "required": ["type"],
})
class RunErrorField(serializers.JSONField):
    pass


class RunReportSerializer(serializers.Serializer):
    """What POST /api/functions/<id>/run/ answers: the run's report (functions/report.py), not the function."""

    ok = serializers.BooleanField()
    error_text = serializers.CharField(help_text="One line, as a chrono's last_error keeps it; empty when ok")
    error = RunErrorField(allow_null=True)
    function = serializers.CharField()
    version = serializers.IntegerField()
    logs = serializers.ListField(child=serializers.CharField())
    state_change = serializers.DictField(help_text="The state keys the run set (saved only when it succeeded)")
    http_calls = serializers.IntegerField()
    messages = serializers.IntegerField()
    duration_ms = serializers.IntegerField()
    limit = serializers.CharField(required=False, allow_null=True, help_text="Failed runs: the limit it hit, if any")
    refused = serializers.ListField(child=serializers.CharField(), required=False,
                                    help_text="Failed runs: what the SDK refused")

    def get_fields(self) -> dict:
        fields = super().get_fields()
        # "return" is a Python keyword, so it cannot be a class attribute above.
        fields["return"] = serializers.JSONField(allow_null=True, help_text="What run(ctx) returned; null on failure")
        return fields
