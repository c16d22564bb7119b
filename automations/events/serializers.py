"""A chrono's message trigger, failure alerts and integrator webhook in the REST API.

``message_trigger`` and ``alert_policy`` are nested objects: sending one replaces the
chrono's whole configuration (validated by the model, errors keyed by its fields),
``null`` removes it, leaving the key out keeps it. ``integrator_webhook`` is read-only
and masked: the URL is a credential, handed out only by the admin action that makes it.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from automations.models import AlertPolicy, Chrono, IntegratorHook, MessageTrigger
from chronoflow.jsonbody import JSON_FIELD_MAPPING

EVENT_FIELDS = ["message_trigger", "alert_policy", "integrator_webhook"]


class _ModelValidated(serializers.ModelSerializer):
    """Validate the nested object with the model's own clean(), as the admin does."""

    serializer_field_mapping = {**serializers.ModelSerializer.serializer_field_mapping, **JSON_FIELD_MAPPING}

    def validate(self, attrs: dict) -> dict:
        candidate = self.Meta.model(**attrs)
        try:
            candidate.full_clean(exclude=["chrono"], validate_unique=False)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from None
        return {name: getattr(candidate, name) for name in attrs}  # as clean() normalised them


class MessageTriggerSerializer(_ModelValidated):
    class Meta:
        model = MessageTrigger
        fields = ["channel", "match", "pattern", "senders", "max_runs", "per_seconds"]


class AlertPolicySerializer(_ModelValidated):
    class Meta:
        model = AlertPolicy
        fields = ["after_failures", "channel", "recipient", "webhook_url", "email", "pause_after",
                  "consecutive_failures", "alerting", "last_alert_at", "paused_reason"]
        read_only_fields = ["consecutive_failures", "alerting", "last_alert_at", "paused_reason"]


class EventConfigFields(serializers.Serializer):
    """Mixed into ChronoSerializer: declares the fields and saves them with the chrono."""

    message_trigger = MessageTriggerSerializer(required=False, allow_null=True)
    alert_policy = AlertPolicySerializer(required=False, allow_null=True)
    integrator_webhook = serializers.SerializerMethodField()

    def get_integrator_webhook(self, chrono: Chrono) -> dict | None:
        try:
            hook = chrono.hook
        except IntegratorHook.DoesNotExist:
            return None
        return {"url": hook.masked_url, "signed": bool(hook.signing_key)}

    def take_event_config(self, attrs: dict) -> None:
        """Set aside the nested configs before the chrono's fields are applied to the model."""
        self._event_config = {name: attrs.pop(name) for name in ("message_trigger", "alert_policy") if name in attrs}

    def save_event_config(self, chrono: Chrono) -> None:
        """Replace (or, for null, delete) each config sent, once the chrono is saved."""
        for name, model in (("message_trigger", MessageTrigger), ("alert_policy", AlertPolicy)):
            if name not in getattr(self, "_event_config", {}):
                continue
            values = self._event_config[name]
            model.objects.filter(chrono=chrono).delete()
            if values is not None:
                model.objects.create(chrono=chrono, **values)
