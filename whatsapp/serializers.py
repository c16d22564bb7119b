from rest_framework import serializers

from whatsapp import governor, outbox
from whatsapp.models import Channel, ChannelStatusChange, Message
from django.utils.translation import gettext as _


class ChannelSerializer(serializers.ModelSerializer):
    """A channel as the API shows it. The webhook token and HMAC key are never shown."""

    connected_as = serializers.CharField(read_only=True)
    provider_label = serializers.CharField(
        source="get_provider_display", read_only=True,
        help_text="WAHA, or 'Development — not WhatsApp' for a development channel (nothing it sends reaches anyone).")
    start = serializers.BooleanField(
        write_only=True, required=False, default=True, help_text="Create: start the session at once (default)."
    )

    governor = serializers.SerializerMethodField(
        help_text="The send governor: sends and budget left (last 24 h), queue, next send, why outreach is paused.")

    class Meta:
        model = Channel
        fields = ["id", "name", "session_name", "provider", "provider_label", "status", "status_changed_at",
                  "connected_as", "me", "should_run", "last_error", "send_profile", "send_limits", "governor",
                  "created_at", "updated_at", "start"]
        read_only_fields = ["provider", "status", "status_changed_at", "me", "should_run", "last_error",
                            "created_at", "updated_at"]

    def get_governor(self, channel: Channel) -> dict:
        return outbox.status(channel)

    def validate(self, attrs: dict) -> dict:
        profile = attrs.get("send_profile", getattr(self.instance, "send_profile", ""))
        limits = attrs.get("send_limits", getattr(self.instance, "send_limits", {}))
        try:
            governor.limits_for(profile, limits)
        except governor.BadLimits as exc:
            raise serializers.ValidationError({"send_limits": str(exc)}) from None
        return attrs

    def validate_send_limits(self, value):
        # A form's "null" (or JSON null) is no object of overrides: refused here, not by the database.
        if not isinstance(value, dict):
            raise serializers.ValidationError(_("Send limits must be an object of overrides (use {} for none)."))
        return value

    def validate_session_name(self, value: str) -> str:
        if self.instance is not None and value != self.instance.session_name:
            raise serializers.ValidationError(_("A channel's WAHA session cannot be renamed; create a new channel."))
        return value

    def create(self, validated_data: dict) -> Channel:
        """Save the channel and create its WAHA session (Channel.provision): if WAHA refuses, nothing stays."""
        start = validated_data.pop("start", True)
        channel = Channel(**validated_data)
        channel.provision(start=start)
        return channel

    def update(self, instance: Channel, validated_data: dict) -> Channel:
        validated_data.pop("start", None)
        return super().update(instance, validated_data)


class PairingCodeSerializer(serializers.Serializer):
    phone_number = serializers.CharField(max_length=32, help_text="With country code, e.g. +55 11 99999-9999.")

    def validate_phone_number(self, value: str) -> str:
        digits = "".join(ch for ch in value if ch.isdigit())
        if not 8 <= len(digits) <= 15:
            raise serializers.ValidationError(_("Write the phone number with its country code, e.g. +55 11 99999-9999."))
        return digits


class StatusChangeSerializer(serializers.ModelSerializer):
    class Meta:
        model = ChannelStatusChange
        fields = ["previous_status", "status", "at", "source", "detail"]


class MessageSerializer(serializers.ModelSerializer):
    class Meta:
        model = Message
        fields = ["id", "channel", "direction", "chat_id", "recipient", "sender", "is_group", "text", "media",
                  "waha_message_id", "status", "error", "timestamp", "run", "created_at", "updated_at"]
        read_only_fields = fields


# --- Shapes the channel actions answer with (documented in the schema, built in whatsapp/api.py) ---

class QrSerializer(serializers.Serializer):
    """GET /api/channels/<id>/qr/ with ``Accept: application/json``."""

    mimetype = serializers.CharField(help_text="Always image/png")
    data = serializers.CharField(help_text="The PNG, base64")
    status = serializers.CharField(help_text="The channel's status: SCAN_QR_CODE")


class NoQrSerializer(serializers.Serializer):
    """409: the channel is not waiting for a scan, so there is no QR to show."""

    detail = serializers.CharField()
    status = serializers.CharField(help_text="The channel's status, e.g. WORKING or STOPPED")


class PairingCodeResultSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Type it on the phone: WhatsApp → Linked devices → Link with phone number")
