import hashlib
import json
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models, transaction
from django.utils.translation import gettext_lazy as _

from functions import restricted


class UserFunction(models.Model):
    """Operator-written Python (`def run(ctx): ...`) that a FUNCTION chrono runs in the sandbox."""

    class Runtime(models.TextChoices):
        PYTHON = "python3", _("Python 3 (restricted)")

    name = models.CharField(_("name"), max_length=120, unique=True)
    code = models.TextField(_("code"), help_text=_("Python source defining def run(ctx)."))
    runtime = models.CharField(_("runtime"), max_length=16, choices=Runtime.choices, default=Runtime.PYTHON)
    timeout_ms = models.PositiveIntegerField(_("timeout ms"),
        default=10_000, validators=[MinValueValidator(100), MaxValueValidator(900_000)],
        help_text=_("Wall-clock limit of one run, 100 ms to 15 min; ctx.sleep and ctx.http count toward it."),
    )
    max_http = models.PositiveIntegerField(_("max http"),
        default=10, validators=[MaxValueValidator(1000)],
        help_text=_("HTTP requests ctx.http may make per run; each redirect followed is one more."))
    max_messages = models.PositiveIntegerField(_("max messages"),
        default=50, validators=[MaxValueValidator(1000)], help_text=_("ctx.message.send calls allowed per run."))
    max_memory_mb = models.PositiveIntegerField(_("max memory mb"),
        default=256, validators=[MinValueValidator(64), MaxValueValidator(4096)],
        help_text=_("Address-space limit of the sandbox process, 64 to 4096 MB."),
    )
    state = models.JSONField(_("state"), default=dict, blank=True, help_text=_("Persisted through ctx.state between runs."))
    env = models.JSONField(_("env"), default=dict, blank=True, help_text=_("Read-only values exposed as ctx.env."))
    version = models.PositiveIntegerField(_("version"), default=1, editable=False)
    checksum = models.CharField(_("checksum"), max_length=64, blank=True, editable=False, help_text=_("sha256 of the code."))
    fallback_channel = models.ForeignKey(
        "whatsapp.Channel", verbose_name=_("fallback channel"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text=_("Used by ctx.message.send when the chrono has no channel."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("user function")
        verbose_name_plural = _("user functions")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    # --- Validation and versioning ------------------------------------------------------

    def clean(self) -> None:
        """Compile the code with RestrictedPython; errors name their lines."""
        from chronoflow import limits

        errors: dict[str, list[str]] = limits.function_code_errors(self.code)  # MAX_FUNCTION_CODE_BYTES
        if errors:
            raise ValidationError(errors)  # too big to be worth compiling
        _, problems = restricted.compile_user_code(self.code)
        if problems:
            errors["code"] = problems
        for field in ("state", "env"):
            problem = _json_object_problem(getattr(self, field), settings.FUNCTION_MAX_STATE_BYTES)
            if problem:
                errors[field] = [problem]
        if errors:
            raise ValidationError(errors)

    @staticmethod
    def checksum_of(code: str) -> str:
        return hashlib.sha256(code.encode("utf-8", "surrogatepass")).hexdigest()

    def save(self, *args, **kwargs) -> None:
        """Keep checksum current and count code changes in `version`."""
        checksum = self.checksum_of(self.code)
        if checksum != self.checksum:
            if self.checksum:  # the first save is version 1
                self.version += 1
            self.checksum = checksum
            if kwargs.get("update_fields") is not None:
                kwargs["update_fields"] = {*kwargs["update_fields"], "checksum", "version"}
        super().save(*args, **kwargs)

    # --- Running -----------------------------------------------------------------------------

    @property
    def limits(self):
        from functions.sandbox import Limits

        return Limits(timeout_ms=self.timeout_ms, max_memory_mb=self.max_memory_mb)

    def env_for(self, chrono=None) -> dict:
        """ctx.env: the chrono's extras over the function's env. Never the process environment."""
        extras = chrono.extras if chrono is not None and isinstance(chrono.extras, dict) else {}
        return {**(self.env if isinstance(self.env, dict) else {}), **extras}

    def run_once(self, input: Any = None, chrono=None, run=None, refill_pool: bool = True):
        """Run the function once in the sandbox; state is saved only when the run succeeds.

        Returns a functions.report.FunctionReport (value, logs, counts, error, state change).
        """
        from functions import sandbox
        from functions.report import FunctionReport
        from functions.sdk import Session

        session = Session(self, chrono=chrono, run=run)
        result = sandbox.run(self.code, self.limits, session, env=self.env_for(chrono), input=input,
                             refill=refill_pool)
        report = FunctionReport.build(self, session, result)
        if report.ok and session.state_changes:
            self.apply_state_changes(session.state_changes)
        return report

    def apply_state_changes(self, changes: dict) -> None:
        """Merge the keys a run set into the stored state (a concurrent run's keys survive)."""
        with transaction.atomic():
            current = UserFunction.objects.select_for_update().values_list("state", flat=True).get(pk=self.pk)
            merged = {**(current if isinstance(current, dict) else {}), **changes}
            UserFunction.objects.filter(pk=self.pk).update(state=merged)
        self.state = merged


def _json_object_problem(value: Any, max_bytes: int) -> str:
    if not isinstance(value, dict):
        return str(_("Must be a JSON object."))
    try:
        size = len(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError):
        return str(_("Must be plain JSON (no NaN or Infinity)."))
    if size > max_bytes:
        return _("Must be at most %(max)d bytes of JSON (it is %(size)d).") % {"max": max_bytes, "size": size}
    return ""
