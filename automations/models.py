import secrets
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import IntegrityError, models, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from automations import routines
from automations import schedule as sched
from automations import targets
from automations.beat import sync as beat_sync
from automations.events import matching
from whatsapp import attachments

# A target's timeout above this is a typo (timeoutMs: 1000000000), not a wait anyone means.
MAX_TIMEOUT_MS = 900_000


def default_timezone() -> str:
    return settings.DEFAULT_TIMEZONE


class ChronoFinished(ValidationError):
    """Resuming a one-shot whose one time has come: it would fire again at once and desync beat."""


class ChronoQuerySet(models.QuerySet):
    def in_state(self, state: str, now: datetime | None = None):
        """Chronos whose ``Chrono.state`` is ``state`` (active, paused or done), as one filter."""
        done = models.Q(is_active=False, schedule_kind=Chrono.ScheduleKind.ONCE, run_at__lte=now or timezone.now())
        if state == Chrono.State.ACTIVE:
            return self.filter(is_active=True)
        if state == Chrono.State.DONE:
            return self.filter(done)
        return self.filter(is_active=False).exclude(done)

    def update(self, **kwargs):
        """Queryset updates bypass save(); keep beat's PeriodicTasks exact anyway."""
        if not beat_sync.FIELDS_THAT_MATTER.intersection(kwargs):
            return super().update(**kwargs)  # nothing beat reads: no need to know which rows
        pks = list(self.values_list("pk", flat=True))
        count = super().update(**kwargs)
        if pks:
            beat_sync.sync_many(self.model._base_manager.filter(pk__in=pks))
        return count


class Chrono(models.Model):
    """A schedule plus a target. Each firing is recorded as a ChronoRun."""

    class TargetType(models.TextChoices):
        HTTP = "HTTP", _("HTTP webhook")
        MESSAGE = "MESSAGE", _("WhatsApp message")
        FUNCTION = "FUNCTION", _("Python function")
        ASSISTANT = "ASSISTANT", _("AI assistant")
        ROUTINE = "ROUTINE", _("Ready-made routine (contacts)")
        CAMPAIGN = "CAMPAIGN", _("Campaign (a copy sent at each occurrence)")

    class ScheduleKind(models.TextChoices):
        CRON = "cron", _("Cron")
        INTERVAL = "interval", _("Interval")
        ONCE = "once", _("Once")
        MANUAL = "manual", _("Only when triggered")

    class State(models.TextChoices):
        ACTIVE = "active", _("active")
        PAUSED = "paused", _("paused")
        DONE = "done", _("done")

    class Misfire(models.TextChoices):
        SKIP = "skip", _("Skip missed occurrences")
        RUN_ONCE = "run_once", _("Run once for all missed occurrences")
        CATCH_UP = "catch_up", _("Run each missed occurrence within the catch-up window")

    class Overlap(models.TextChoices):
        SKIP = "skip", _("Skip if the previous run is still running")
        ALLOW = "allow", _("Allow overlapping runs")
        QUEUE = "queue", _("Queue one run behind the running one")

    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)

    # --- Schedule: the text the operator typed and its normalised form.
    schedule = models.CharField(_("schedule"),
        max_length=200,
        help_text=_("Cron or natural language: '0 8 * * *', 'todo dia às 08:00', 'daily at 07:30', 'every 15 minutes', 'in 10 min', '2026-12-01 10:00'."),
    )
    schedule_kind = models.CharField(_("schedule kind"), max_length=8, choices=ScheduleKind.choices, editable=False)
    schedule_expression = models.CharField(_("schedule expression"), max_length=100, editable=False)
    run_at = models.DateTimeField(_("run at"), null=True, blank=True, editable=False, help_text=_("One-shot chronos: when (UTC)."))
    timezone = models.CharField(_("timezone"), max_length=64, default=default_timezone, help_text=_("IANA zone the schedule is read in."))

    # --- Target.
    target_type = models.CharField(_("target type"), max_length=16, choices=TargetType.choices, default=TargetType.HTTP)
    method = models.CharField(_("method"), max_length=8, default="POST", help_text=_("HTTP: one of ALLOWED_METHODS."))
    url = models.URLField(_("url"), max_length=2000, blank=True, help_text=_("HTTP: the URL to call."))
    headers = models.JSONField(_("headers"), default=dict, blank=True, help_text=_("HTTP: request headers."))
    payload = models.JSONField(_("payload"), null=True, blank=True, help_text=_("HTTP: JSON body."))
    timeout_ms = models.PositiveIntegerField(_("timeout ms"), null=True, blank=True, help_text=_("HTTP: defaults to HTTP_REQUEST_TIMEOUT_MS."))
    channel = models.ForeignKey(
        "whatsapp.Channel", verbose_name=_("channel"), null=True, blank=True, on_delete=models.SET_NULL, related_name="chronos",
        help_text=_("MESSAGE (and FUNCTION's ctx.message): the WhatsApp channel that sends."),
    )
    message_template = models.TextField(_("message template"), blank=True, help_text=_("MESSAGE: Django template text."))
    recipients = models.JSONField(_("recipients"), default=list, blank=True, help_text=_("MESSAGE: phone numbers or chat ids."))
    # MESSAGE: one file sent with the message as its caption (whatsapp/attachments.py).
    attachment_kind = models.CharField(
        _("attachment kind"), max_length=16, blank=True, choices=attachments.KIND_CHOICES,
        help_text=_("MESSAGE: send a file, the message being its caption; empty: text only."))
    attachment_url = models.URLField(
        _("attachment URL"), max_length=2000, blank=True,
        help_text=_("MESSAGE: the file's http(s) address, which WAHA downloads; or upload the file instead."))
    attachment_file = models.FileField(
        _("attachment file"), upload_to=attachments.upload_to, storage=attachments.storage, max_length=255,
        blank=True, help_text=_("MESSAGE: an uploaded file (at most WHATSAPP_ATTACHMENT_MAX_BYTES); "
                                "or give its URL instead."))
    attachment_filename = models.CharField(
        _("attachment filename"), max_length=200, blank=True,
        help_text=_("MESSAGE: the name the recipient sees (documents); empty: the file's own."))
    attachment_mimetype = models.CharField(
        _("attachment mimetype"), max_length=100, blank=True,
        help_text=_("MESSAGE: e.g. image/jpeg or application/pdf; empty: guessed from the file's name."))
    function = models.ForeignKey(
        "functions.UserFunction", verbose_name=_("function"), null=True, blank=True, on_delete=models.PROTECT, related_name="chronos",
        help_text=_("FUNCTION: the function to run."),
    )
    extras = models.JSONField(_("extras"), default=dict, blank=True,
                              help_text=_("FUNCTION: values exposed as ctx.env. ROUTINE: the routine's texts and options. "
                                          "CAMPAIGN: {\"campaign\": <the id of the campaign to copy>}."))
    assistant = models.ForeignKey(
        "assistants.Assistant", verbose_name=_("assistant"), null=True, blank=True, on_delete=models.PROTECT, related_name="chronos",
        help_text=_("ASSISTANT: the assistant that answers the message that started the run."),
    )
    routine = models.CharField(
        _("routine"), max_length=16, blank=True, choices=routines.CHOICES,
        help_text=_("ROUTINE: which ready-made routine runs (birthday greeting, satisfaction survey, new-lead welcome)."))

    # --- State.
    is_active = models.BooleanField(_("is active"), default=True)
    is_recurring = models.BooleanField(_("is recurring"), default=True, editable=False)
    next_run_at = models.DateTimeField(_("next run at"), null=True, blank=True, editable=False)
    last_run_at = models.DateTimeField(_("last run at"), null=True, blank=True, editable=False)
    last_run_status = models.CharField(_("last run status"), max_length=16, blank=True, editable=False)
    last_error = models.TextField(_("last error"), blank=True, editable=False)
    periodic_task = models.OneToOneField(
        "django_celery_beat.PeriodicTask", verbose_name=_("periodic task"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="chrono", editable=False,
    )

    # --- Policies.
    max_attempts = models.PositiveSmallIntegerField(_("max attempts"), null=True, blank=True, help_text=_("Defaults to RUN_MAX_ATTEMPTS."))
    backoff_ms = models.PositiveIntegerField(_("backoff ms"), null=True, blank=True, help_text=_("Defaults to RUN_BACKOFF_MS; doubles each attempt."))
    misfire_policy = models.CharField(_("misfire policy"), max_length=8, choices=Misfire.choices, default=Misfire.RUN_ONCE)
    catchup_window_s = models.PositiveIntegerField(_("catchup window s"), default=3600, help_text=_("catch_up: how far back missed occurrences still run."))
    overlap_policy = models.CharField(_("overlap policy"), max_length=8, choices=Overlap.choices, default=Overlap.SKIP)

    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = ChronoQuerySet.as_manager()

    class Meta:
        verbose_name = _("chrono")
        verbose_name_plural = _("chronos")
        ordering = ["name", "pk"]
        indexes = [
            models.Index(fields=["is_active", "next_run_at"]),
            # The lists' orderings and filters (admin and API); see bench/pages.py.
            models.Index(fields=["name", "id"], name="chrono_name"),
            models.Index(fields=["next_run_at", "id"], name="chrono_next_run"),
            models.Index(fields=["last_run_status", "last_run_at"], name="chrono_last_status"),
            models.Index(fields=["target_type", "is_active"], name="chrono_type_active"),  # /metrics' gauge
        ]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        # Remember what was parsed, so re-saving "in 10 min" does not move the run.
        instance._parsed_schedule = (instance.__dict__.get("schedule"), instance.__dict__.get("timezone"))
        return instance

    # --- Schedule ---------------------------------------------------------------------

    @property
    def parsed_schedule(self) -> sched.Schedule:
        return sched.from_normalised(self.schedule_kind, self.schedule_expression, self.run_at)

    def schedule_changed(self) -> bool:
        return getattr(self, "_parsed_schedule", None) != (self.schedule, self.timezone) or not self.schedule_kind

    def apply_schedule(self, now: datetime | None = None) -> None:
        """Parse `schedule` into its normalised form; raises ValidationError on the field."""
        now = now or timezone.now()
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            # Checked first: schedule.parse reports a bad zone as a ScheduleError (the schedule field).
            raise ValidationError({"timezone": _("Unknown time zone %(zone)r; use an IANA name such as America/Sao_Paulo.")
                                               % {"zone": self.timezone}}) from None
        try:
            parsed = sched.parse(self.schedule, self.timezone, now)
        except sched.ScheduleError as exc:
            raise ValidationError({"schedule": str(exc)}) from None
        except (ValueError, KeyError):
            raise ValidationError({"timezone": _("Unknown time zone %(zone)r.") % {"zone": self.timezone}}) from None
        self.schedule_kind = parsed.kind
        self.schedule_expression = parsed.expression
        self.run_at = parsed.run_at
        self.is_recurring = parsed.is_recurring
        self.next_run_at = self.compute_next_run(now)
        self._parsed_schedule = (self.schedule, self.timezone)

    def compute_next_run(self, after: datetime) -> datetime | None:
        times = self.next_fire_times(1, after=after)
        return times[0] if times else None

    def next_fire_times(self, n: int = 5, after: datetime | None = None) -> list[datetime]:
        after = after or timezone.now()
        anchor = self.created_at if self.schedule_kind == self.ScheduleKind.INTERVAL else None
        return sched.next_fire_times(self.parsed_schedule, self.timezone, after, n, anchor=anchor or after)

    def fire_time_note(self, when: datetime, lang: str | None = None) -> str | None:
        """Why fire time `when` is not the wall time the schedule names (a DST gap moved it), or None.
        In ``lang`` ("en", "pt_BR"), by default the active language."""
        return sched.gap_note(self.parsed_schedule, self.timezone, when, lang or get_language() or "en")

    def describe_schedule(self, lang: str | None = None) -> str:
        """The schedule in words, in ``lang`` ("en", "pt_BR"), by default the active language."""
        return sched.describe(self.parsed_schedule, self.timezone, lang or get_language() or "en", typed=self.schedule)

    def attachment(self, caption: str = "") -> "attachments.Attachment | None":
        """MESSAGE: the file this chrono sends with ``caption``; None when it sends text only."""
        if not (self.attachment_kind or self.attachment_url or self.attachment_file):
            return None
        return attachments.Attachment(
            kind=self.attachment_kind, url=self.attachment_url, file=self.attachment_file.name or "",
            filename=self.attachment_filename, mimetype=self.attachment_mimetype, caption=caption)

    # --- Validation ---------------------------------------------------------------------

    def clean(self) -> None:
        from chronoflow import limits

        errors: dict[str, list[str]] = limits.chrono_errors(self)  # size caps (MAX_* settings)
        if self.schedule_changed():
            try:
                self.apply_schedule()
            except ValidationError as exc:
                errors.update(exc.message_dict)
            else:
                errors.update(self._past_one_shot_errors())
        if self.timeout_ms is not None and not 1 <= self.timeout_ms <= MAX_TIMEOUT_MS:
            errors.setdefault("timeout_ms", []).append(
                _("The timeout must be between 1 and %(max)d ms (15 minutes).") % {"max": MAX_TIMEOUT_MS})
        self.method = (self.method or "").upper()
        for name, problems in targets.config_errors(self).items():  # the target's own fields
            errors.setdefault(name, []).extend(problems)
        if errors:
            raise ValidationError(errors)

    def _past_one_shot_errors(self) -> dict[str, list[str]]:
        # A one-shot already past would fire at once: a year typo messages customers now.
        if self.schedule_kind == self.ScheduleKind.ONCE and self.run_at and self.run_at <= timezone.now():
            return {"schedule": [_("%(when)s is already past; give a future date and time, or e.g. 'in 10 min'.")
                                 % {"when": self.run_at.astimezone(ZoneInfo(self.timezone)).isoformat()}]}
        return {}

    def save(self, *args, **kwargs) -> None:
        if self.schedule_changed():
            self.apply_schedule()
        super().save(*args, **kwargs)
        beat_sync.sync(self)

    # --- State ------------------------------------------------------------------------

    @property
    def is_done(self) -> bool:
        """A one-shot whose one time has come and gone: it ran (or its time passed while paused)."""
        return (not self.is_active and self.schedule_kind == self.ScheduleKind.ONCE
                and self.run_at is not None and self.run_at <= timezone.now())

    @property
    def state(self) -> str:
        """active, paused, or done (a finished one-shot, which resuming cannot bring back)."""
        if self.is_active:
            return self.State.ACTIVE
        return self.State.DONE if self.is_done else self.State.PAUSED

    # --- Operations ---------------------------------------------------------------------

    def pause(self) -> None:
        Chrono.objects.filter(pk=self.pk).update(is_active=False)
        self.is_active = False

    def resume(self, now: datetime | None = None) -> None:
        """Reactivate from the next fire time on; ChronoFinished for a one-shot that is done."""
        if self.is_done:
            when = self.run_at.astimezone(ZoneInfo(self.timezone)).strftime("%Y-%m-%d %H:%M:%S %Z")
            raise ChronoFinished({"schedule": [
                _("Chrono %(id)s is a one-shot that is done (its time, %(when)s, has passed): resuming cannot "
                  "bring it back. Give it a new schedule to run it again, or run it now.")
                % {"id": self.pk, "when": when}]})
        self.is_active = True
        self.next_run_at = self.compute_next_run(now or timezone.now())
        self.save(update_fields=["is_active", "next_run_at", "updated_at"])

    def trigger(self, trigger: str = "manual", input: dict | None = None) -> "ChronoRun":
        """Run now, outside the schedule. The task is enqueued once the transaction commits.

        The occurrence is "now"; two triggers in the same microsecond (two hooks at once)
        take the next free microsecond instead of colliding on one_run_per_occurrence.
        """
        from automations.queue import enqueue_run

        at = timezone.now()
        for _try in range(TRIGGER_COLLISION_TRIES):
            try:
                with transaction.atomic():
                    run = ChronoRun.objects.create(chrono=self, scheduled_for=at, trigger=trigger, input=input)
                break
            except IntegrityError:
                at += timedelta(microseconds=1)
        else:
            raise IntegrityError(f"chrono {self.pk}: no free occurrence near {at.isoformat()}")
        enqueue_run(run)
        return run

    def event_queue_full(self) -> bool:
        """Whether EVENT_QUEUE_MAX event runs already wait behind a run in progress (hooks answer 429)."""
        if self.overlap_policy == self.Overlap.ALLOW:
            return False
        return ChronoRun.objects.queued(self.pk).count() >= settings.EVENT_QUEUE_MAX

    # Message and payload templates see the chrono: "{{ chrono.trigger }}" must not start a run.
    pause.alters_data = resume.alters_data = trigger.alters_data = True

    @property
    def effective_max_attempts(self) -> int:
        return self.max_attempts or settings.RUN_MAX_ATTEMPTS

    def backoff_seconds(self, attempt: int) -> float:
        """Delay before attempt `attempt + 1`: base, 2×base, 4×base, ..."""
        base_ms = settings.RUN_BACKOFF_MS if self.backoff_ms is None else self.backoff_ms
        return base_ms * (2 ** max(attempt - 1, 0)) / 1000


TRIGGER_COLLISION_TRIES = 1000


class ChronoRunQuerySet(models.QuerySet):
    def queued(self, chrono_id: int):
        """Runs waiting behind a run in progress (pending, never attempted, no attempt due), oldest first."""
        return self.filter(chrono_id=chrono_id, status=ChronoRun.Status.PENDING, attempt=0,
                           next_attempt_at__isnull=True).order_by("scheduled_for", "pk")


class ChronoRun(models.Model):
    """One occurrence of a chrono, with every attempt at it."""

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", _("Schedule")
        MANUAL = "manual", _("Manual")
        WEBHOOK = "webhook", _("Webhook")
        MESSAGE = "message", _("Message")
        RETRY = "retry", _("Retry")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        RUNNING = "running", _("Running")
        SUCCESS = "success", _("Success")
        FAILED = "failed", _("Failed")
        SKIPPED = "skipped", _("Skipped")
        TIMEOUT = "timeout", _("Timeout")

    FINAL = (Status.SUCCESS, Status.FAILED, Status.SKIPPED, Status.TIMEOUT)
    SNIPPET_CHARS = 1000

    # No index of its own: one_run_per_occurrence starts with the chrono and serves every
    # lookup by chrono (a chrono's runs newest first: scanned backwards). Each index costs
    # beat's burst INSERT and every run's status writes.
    chrono = models.ForeignKey(Chrono, verbose_name=_("chrono"), on_delete=models.CASCADE, related_name="runs",
                               db_index=False)
    scheduled_for = models.DateTimeField(_("scheduled for"))
    trigger = models.CharField(_("trigger"), max_length=10, choices=Trigger.choices, default=Trigger.SCHEDULE)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    attempt = models.PositiveSmallIntegerField(_("attempt"), default=0)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    duration_ms = models.PositiveIntegerField(_("duration ms"), null=True, blank=True)
    http_status = models.PositiveSmallIntegerField(_("http status"), null=True, blank=True)
    response_snippet = models.TextField(_("response snippet"), blank=True)
    error_message = models.TextField(_("error message"), blank=True)
    result = models.JSONField(_("result"), null=True, blank=True)
    input = models.JSONField(_("input"), null=True, blank=True)
    attempts = models.JSONField(_("attempts"), default=list, blank=True, help_text=_("One entry per attempt: when, outcome, error."))
    next_attempt_at = models.DateTimeField(_("next attempt at"),
        null=True, blank=True, default=timezone.now,
        help_text=_("Pending: when the next attempt is due (the reaper re-sends it if no worker took it by then "
                  "plus a grace). Empty while queued behind a running run of the same chrono."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = ChronoRunQuerySet.as_manager()

    # Work somebody asked for: while a run is in progress these wait their turn (up to
    # EVENT_QUEUE_MAX per chrono) whatever the overlap policy, instead of being skipped.
    EVENT_TRIGGERS = (Trigger.WEBHOOK, Trigger.MESSAGE)

    class Meta:
        verbose_name = _("chrono run")
        verbose_name_plural = _("chrono runs")
        ordering = ["-scheduled_for", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["chrono", "scheduled_for", "trigger"], name="one_run_per_occurrence"),
        ]
        indexes = [
            models.Index(fields=["status", "started_at"], name="run_status_started"),
            # The run lists' order (newest first), whole and filtered on a status.
            models.Index(fields=["-scheduled_for", "-id"], name="run_newest"),
            models.Index(fields=["status", "-scheduled_for", "-id"], name="run_status_newest"),
        ]

    def __str__(self) -> str:
        # In the operator's zone, as every time on the run's page; the status in the operator's language.
        when = timezone.localtime(self.scheduled_for)
        return f"{self.chrono} @ {when:%Y-%m-%d %H:%M:%S %Z} ({self.get_status_display()})"

    def get_status_display(self) -> str:
        # Django's own builds a dict of the choices at each call, hashing (so translating) all six
        # lazy labels; the run list calls it twice a row (its __str__ is the checkbox's label).
        try:
            return str(self.Status(self.status).label)
        except ValueError:  # not one of the choices: shown as stored, as Django does
            return self.status

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        # What the row said when read: a run is tallied once, when it becomes final (automations/runs/tallies.py).
        instance._stored_status = instance.__dict__.get("status")
        return instance

    @property
    def is_final(self) -> bool:
        return self.status in self.FINAL


class RunTally(models.Model):
    """Counters of finished runs, kept as they finish, so dashboard and /metrics never scan the runs.

    One row per (hour of ``scheduled_for``, target type, status, metric, value): ``metric``
    is "runs" (value 0), "lateness" or "duration" (value: milliseconds rounded up to two
    significant figures, so histogram buckets and percentiles are read from a few rows).
    ``hour`` = ``ALL_TIME`` holds the totals since the start. Written by automations/runs/tallies.py.
    """

    ALL_TIME = datetime(1970, 1, 1, tzinfo=ZoneInfo("UTC"))

    hour = models.DateTimeField(_("hour"))
    target_type = models.CharField(_("target type"), max_length=16)
    status = models.CharField(_("status"), max_length=10)
    metric = models.CharField(_("metric"), max_length=8)
    value_ms = models.BigIntegerField(_("value ms"), default=0)
    n = models.BigIntegerField(_("n"), default=0)
    total_ms = models.BigIntegerField(_("total ms"), default=0, help_text=_("Sum of the exact values (lateness, duration)."))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["hour", "target_type", "status", "metric", "value_ms"], name="one_tally"),
        ]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H:00} {self.target_type} {self.status} {self.metric}={self.value_ms}: {self.n}"


# --- Event triggers and alerts -----------------------------------------------------------
# How a chrono is started by something that happened (an integrator's POST, a WhatsApp
# message), who hears about it when it keeps failing, and the log of every inbound event.
# The behaviour lives in automations/events/ (hooks.py, triggers.py, alerts.py, log.py).


def new_hook_secret() -> str:
    return secrets.token_urlsafe(32)


class IntegratorHook(models.Model):
    """The chrono's integrator webhook: ``POST /hooks/<token>`` runs it with the JSON body as input.

    There is none until an operator asks for one (admin action), so no chrono can be
    started from outside by default. Rotating the token retires the old URL at once.
    """

    chrono = models.OneToOneField(Chrono, verbose_name=_("chrono"), on_delete=models.CASCADE, related_name="hook")
    token = models.CharField(_("token"), max_length=64, unique=True, default=new_hook_secret, editable=False)
    signing_key = models.CharField(_("signing key"),
        max_length=128, blank=True, editable=False,
        help_text=_("When set, requests must carry X-ChronoFlow-Signature: sha256=<hex HMAC-SHA256 of the body>."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    rotated_at = models.DateTimeField(_("rotated at"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("integrator hook")
        verbose_name_plural = _("integrator hooks")

    def __str__(self) -> str:
        return _("Webhook of %(chrono)s") % {"chrono": self.chrono}

    @property
    def url(self) -> str:
        return settings.PUBLIC_BASE_URL + reverse("integrator-hook", args=[self.token])

    @property
    def masked_url(self) -> str:
        """The URL with all but the start of its token masked: enough to recognise, not to use."""
        from chronoflow.secrets import MASK

        return self.url.replace(self.token, self.token[:4] + MASK)

    @classmethod
    def rotate_token(cls, chrono: Chrono) -> "IntegratorHook":
        """Give the chrono a new webhook URL (its first one, or one that replaces the old)."""
        hook, created = cls.objects.get_or_create(chrono=chrono)
        if not created:
            hook.token, hook.rotated_at = new_hook_secret(), timezone.now()
            hook.save(update_fields=["token", "rotated_at"])
        return hook

    @classmethod
    def rotate_signing_key(cls, chrono: Chrono) -> "IntegratorHook":
        """A new signing key; from now on every request must be signed with it."""
        hook, _ = cls.objects.get_or_create(chrono=chrono)
        hook.signing_key, hook.rotated_at = secrets.token_hex(32), timezone.now()
        hook.save(update_fields=["signing_key", "rotated_at"])
        return hook


class MessageTrigger(models.Model):
    """Run the chrono when a WhatsApp message on ``channel`` matches ``pattern``.

    Text is compared case- and accent-insensitively ("Cardápio" matches "cardapio").
    The message becomes the run's input; ``max_runs`` per contact per ``per_seconds``
    stops two bots from answering each other forever.
    """

    class Match(models.TextChoices):
        EXACT = matching.EXACT, "The whole text is"
        CONTAINS = matching.CONTAINS, "The text contains"
        REGEX = matching.REGEX, "The text matches the regular expression"
        FALLBACK = matching.FALLBACK, "No other trigger on the channel matched (the channel's default responder)"
        ROUTINE = matching.ROUTINE, _("The chrono's ready-made routine wants it (a survey's answer, a new lead)")

    chrono = models.OneToOneField(Chrono, verbose_name=_("chrono"), on_delete=models.CASCADE, related_name="message_trigger")
    channel = models.ForeignKey(
        "whatsapp.Channel", verbose_name=_("channel"), on_delete=models.CASCADE, related_name="message_triggers",
        help_text=_("Messages received on this channel are matched."),
    )
    match = models.CharField(_("match"), max_length=8, choices=Match.choices, default=Match.EXACT)
    pattern = models.CharField(_("pattern"),
        max_length=500, blank=True,
        help_text=_("Text to compare with (case and accents ignored), or a regular expression; "
                  "empty for the default responder."),
    )
    senders = models.JSONField(_("senders"),
        default=list, blank=True,
        help_text=_("Only messages from these phone numbers or chat ids; empty: from anyone."),
    )
    max_runs = models.PositiveSmallIntegerField(_("max runs"),
        default=3, validators=[MinValueValidator(1)],
        help_text=_("At most this many runs per contact within the window below; further messages are logged, not run."),
    )
    per_seconds = models.PositiveIntegerField(_("per seconds"), default=60, validators=[MinValueValidator(1)])
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("WhatsApp message trigger")
        verbose_name_plural = _("WhatsApp message triggers")

    def __str__(self) -> str:
        return f"{self.get_match_display()} {self.pattern!r}"

    def clean(self) -> None:
        errors = {}
        if self.match in (self.Match.FALLBACK, self.Match.ROUTINE):
            self.pattern = ""  # it answers whatever nothing else did, or what its routine asks for
            if self.match == self.Match.ROUTINE and self.chrono_id and self.chrono.target_type != Chrono.TargetType.ROUTINE:
                errors["match"] = _("Only a ROUTINE chrono's routine decides which messages it wants.")
        elif not (self.pattern or "").strip():
            errors["pattern"] = _("Write the text (or regular expression) to match.")
        elif self.match == self.Match.REGEX:
            problem = matching.regex_problem(self.pattern)
            if problem:
                errors["pattern"] = problem
        try:
            self.senders = matching.normalise_senders(self.senders)
        except ValueError as exc:
            errors["senders"] = str(exc)
        if errors:
            raise ValidationError(errors)


class AlertPolicy(models.Model):
    """Who hears about a chrono that keeps failing, and when to give up on it.

    After ``after_failures`` failed runs in a row, one alert goes to every destination
    set (a WhatsApp message, a webhook, an email); the next success sends one
    "recovered" alert. With ``pause_after`` the chrono is paused after that many.
    """

    chrono = models.OneToOneField(Chrono, verbose_name=_("chrono"), on_delete=models.CASCADE, related_name="alert_policy")
    after_failures = models.PositiveSmallIntegerField(_("after failures"),
        default=3, validators=[MinValueValidator(1)], help_text=_("Consecutive failed runs before the alert."),
    )
    channel = models.ForeignKey(
        "whatsapp.Channel", verbose_name=_("channel"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text=_("WhatsApp alert: the channel that sends it."),
    )
    recipient = models.CharField(_("recipient"), max_length=128, blank=True, help_text=_("WhatsApp alert: the operator's number."))
    webhook_url = models.URLField(_("webhook url"), max_length=2000, blank=True, help_text=_("Webhook alert: receives a JSON POST."))
    email = models.EmailField(_("email"), blank=True, help_text=_("Email alert: sent with Django's mail settings."))
    pause_after = models.PositiveSmallIntegerField(_("pause after"),
        null=True, blank=True, validators=[MinValueValidator(1)],
        help_text=_("Pause the chrono after this many consecutive failed runs; empty: never."),
    )
    consecutive_failures = models.PositiveIntegerField(_("consecutive failures"), default=0, editable=False)
    alerting = models.BooleanField(_("alerting"), default=False, editable=False, help_text=_("An alert went out; no recovery yet."))
    last_alert_at = models.DateTimeField(_("last alert at"), null=True, blank=True, editable=False)
    last_alert = models.TextField(_("last alert"), blank=True, editable=False, help_text=_("What the last alert said and where it went."))
    paused_reason = models.TextField(_("paused reason"), blank=True, editable=False)

    class Meta:
        verbose_name = _("failure alert")
        verbose_name_plural = _("failure alerts")

    def __str__(self) -> str:
        return _("Alerts of %(chrono)s") % {"chrono": self.chrono}

    def clean(self) -> None:
        from whatsapp import recipients

        errors = {}
        if bool(self.channel_id) != bool(self.recipient.strip()):
            errors["recipient" if self.channel_id else "channel"] = _("A WhatsApp alert needs both a channel and a recipient.")
        elif self.recipient:
            try:
                self.recipient = recipients.normalise(self.recipient)
            except recipients.InvalidRecipient as exc:
                errors["recipient"] = str(exc)
        if not (self.channel_id or self.webhook_url or self.email) and not self.pause_after:
            errors["__all__"] = _("Set where alerts go (WhatsApp, webhook or email), or when to pause the chrono.")
        if errors:
            raise ValidationError(errors)


class Event(models.Model):
    """One inbound event, kept for audit with what it triggered.

    ``triggered`` lists ``{"chrono": id, "name": ..., "run": id}`` and outlives the runs
    (which retention may delete first); ``detail`` says why others were not started.
    """

    class Source(models.TextChoices):
        HOOK = "hook", _("Integrator webhook")
        MESSAGE = "message", _("WhatsApp message")
        SESSION_STATUS = "session.status", _("WhatsApp session status")

    class Outcome(models.TextChoices):
        TRIGGERED = "triggered", _("Triggered runs")
        NO_MATCH = "no_match", _("Nothing to run")
        LIMITED = "limited", _("Rate-limited")
        REFUSED = "refused", _("Refused")
        RECORDED = "recorded", _("Recorded")

    source = models.CharField(_("source"), max_length=16, choices=Source.choices)
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome.choices)
    received_at = models.DateTimeField(_("received at"), default=timezone.now, db_index=True)
    chrono = models.ForeignKey(Chrono, verbose_name=_("chrono"), null=True, blank=True, on_delete=models.SET_NULL, related_name="events")
    channel = models.ForeignKey(
        "whatsapp.Channel", verbose_name=_("channel"), null=True, blank=True, on_delete=models.SET_NULL, related_name="events",
    )
    contact = models.CharField(_("contact"), max_length=128, blank=True, help_text=_("Messages: who wrote."))
    summary = models.CharField(_("summary"), max_length=300, blank=True)
    payload = models.JSONField(_("payload"), null=True, blank=True, help_text=_("What arrived (the run's input)."))
    triggered = models.JSONField(_("triggered"), default=list, blank=True)
    detail = models.TextField(_("detail"), blank=True)
    key = models.CharField(_("key"),
        max_length=255, null=True, blank=True, unique=True, editable=False,
        help_text=_("Identity of the event at its source (e.g. the WhatsApp message id): kept once."),
    )

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        ordering = ["-received_at", "-pk"]
        indexes = [models.Index(fields=["source", "-received_at"], name="event_source_newest")]

    def __str__(self) -> str:
        return f"{self.get_source_display()} {self.received_at:%Y-%m-%d %H:%M:%S}: {self.summary[:60]}"

    @property
    def run_ids(self) -> list[int]:
        return [item["run"] for item in self.triggered if item.get("run")]


# The ready-made routines' own rows (automations/routines/models.py).
from automations.routines.models import RoutineMark, SurveyAnswer  # noqa: E402, F401
