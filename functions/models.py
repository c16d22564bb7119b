from django.db import models


class UserFunction(models.Model):
    """Operator-written Python (`def run(ctx): ...`) that a FUNCTION chrono runs in the sandbox."""

    class Runtime(models.TextChoices):
        PYTHON = "python3", "Python 3 (restricted)"

    name = models.CharField(max_length=120, unique=True)
    code = models.TextField(help_text="Python source defining def run(ctx).")
    runtime = models.CharField(max_length=16, choices=Runtime.choices, default=Runtime.PYTHON)
    timeout_ms = models.PositiveIntegerField(default=10_000, help_text="Wall-clock limit of one run.")
    max_http = models.PositiveIntegerField(default=10, help_text="ctx.http calls allowed per run.")
    max_messages = models.PositiveIntegerField(default=50, help_text="ctx.message.send calls allowed per run.")
    max_memory_mb = models.PositiveIntegerField(default=256, help_text="Address-space limit of the sandbox.")
    state = models.JSONField(default=dict, blank=True, help_text="Persisted through ctx.state between runs.")
    env = models.JSONField(default=dict, blank=True, help_text="Read-only values exposed as ctx.env.")
    version = models.PositiveIntegerField(default=1, editable=False)
    checksum = models.CharField(max_length=64, blank=True, editable=False, help_text="sha256 of the code.")
    fallback_channel = models.ForeignKey(
        "whatsapp.Channel", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="Used by ctx.message.send when the chrono has no channel.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
