import secrets

from django.db import models


def new_webhook_token() -> str:
    return secrets.token_urlsafe(32)


class Channel(models.Model):
    """One WhatsApp account, i.e. one WAHA session."""

    class Provider(models.TextChoices):
        WAHA = "WAHA", "WAHA"

    class Status(models.TextChoices):
        STOPPED = "STOPPED", "Stopped"
        STARTING = "STARTING", "Starting"
        SCAN_QR_CODE = "SCAN_QR_CODE", "Waiting for QR scan"
        WORKING = "WORKING", "Working"
        FAILED = "FAILED", "Failed"

    provider = models.CharField(max_length=16, choices=Provider.choices, default=Provider.WAHA)
    name = models.CharField(max_length=120, help_text="A name operators recognise, e.g. 'Store front desk'.")
    session_name = models.CharField(
        max_length=64, unique=True, help_text="The WAHA session name (letters, digits, '-' and '_')."
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.STOPPED)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    me = models.JSONField(null=True, blank=True, help_text="The WhatsApp account WAHA reports (id, pushName).")
    webhook_token = models.CharField(
        max_length=64, unique=True, default=new_webhook_token, editable=False,
        help_text="Secret part of the URL WAHA posts events to.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.session_name})"


class Message(models.Model):
    """A WhatsApp message ChronoFlow sent or received."""

    class Direction(models.TextChoices):
        IN = "in", "Inbound"
        OUT = "out", "Outbound"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        DELIVERED = "delivered", "Delivered"
        READ = "read", "Read"
        RECEIVED = "received", "Received"

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="messages")
    direction = models.CharField(max_length=3, choices=Direction.choices)
    chat_id = models.CharField(max_length=128)
    text = models.TextField(blank=True)
    media = models.JSONField(null=True, blank=True)
    waha_message_id = models.CharField(max_length=255, blank=True, db_index=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    error = models.TextField(blank=True)
    run = models.ForeignKey(
        "automations.ChronoRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["channel", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.get_direction_display()} {self.chat_id}: {self.text[:40]}"
