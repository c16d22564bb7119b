import base64
import logging
import os
import secrets
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.validators import RegexValidator
from django.db import IntegrityError, models, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from whatsapp import governor, signals
from whatsapp import media as media_files
from whatsapp.attachments import Attachment
from whatsapp.devclient import DevClient
from whatsapp.waha import SESSION_EVENTS, WahaClient, WahaError

logger = logging.getLogger(__name__)

# What WAHA retries a webhook with when we do not answer 2xx: set explicitly because
# WAHA's defaults are undocumented. Exponential from 2 s over 10 attempts covers ~30 min,
# enough to ride out a deploy of ChronoFlow.
WEBHOOK_RETRIES = {"policy": "exponential", "delaySeconds": 2, "attempts": 10}


def new_webhook_token() -> str:
    return secrets.token_urlsafe(32)


def new_hmac_key() -> str:
    return secrets.token_hex(32)


# What WHATSAPP_PROVIDER=waha talks to when WAHA_BASE_URL is not set (WAHA's own default port).
WAHA_DEFAULT_URL = "http://localhost:3000"


def current_provider() -> str:
    """The deployment's provider, Channel.Provider.WAHA or DEV: WHATSAPP_PROVIDER when set,
    else WAHA exactly when WAHA_BASE_URL is set. The development channel is never the
    default of a deployment that names a WAHA server."""
    chosen = settings.WHATSAPP_PROVIDER or ("waha" if settings.WAHA_BASE_URL else "dev")
    return Channel.Provider.DEV if chosen == "dev" else Channel.Provider.WAHA


def client_for(provider: str, timeout_s: float | None = None) -> "WahaClient | DevClient":
    """The one place that picks who a channel talks to: WAHA (WAHA_BASE_URL, WAHA_API_KEY) or
    the development channel, which talks to nothing."""
    if provider == Channel.Provider.DEV:
        return DevClient(_dev_sessions)
    timeout = settings.WAHA_TIMEOUT_MS / 1000 if timeout_s is None else timeout_s
    return WahaClient(settings.WAHA_BASE_URL or WAHA_DEFAULT_URL, settings.WAHA_API_KEY, timeout)


def waha_client(timeout_s: float | None = None) -> "WahaClient | DevClient":
    """The client of the deployment's provider (current_provider()): what the monitor lists."""
    return client_for(current_provider(), timeout_s)


def _dev_sessions() -> dict[str, str]:
    # A dev session has no state of its own: it is what ChronoFlow stored.
    return dict(Channel.objects.filter(provider=Channel.Provider.DEV).values_list("session_name", "status"))


def from_epoch_ms(value: object) -> datetime | None:
    """WAHA's envelope timestamps (unix milliseconds) as aware datetimes; None if unreadable."""
    try:
        return datetime.fromtimestamp(float(value) / 1000, tz=dt_timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


SEND_PROFILES = [("", _("Not governed: sends at once")), ("careful", _("Careful")), ("normal", _("Normal")),
                 ("fast", _("Fast"))]


class Channel(models.Model):
    """One WhatsApp account, i.e. one WAHA session.

    ChronoFlow owns the desired state (``should_run``) and WAHA the actual one; the
    status webhook and the health monitor keep ``status`` in line with WAHA.
    """

    class Provider(models.TextChoices):
        WAHA = "WAHA", _("WAHA")
        DEV = "DEV", _("Development — not WhatsApp")

    class Status(models.TextChoices):
        STOPPED = "STOPPED", _("Stopped")
        STARTING = "STARTING", _("Starting")
        SCAN_QR_CODE = "SCAN_QR_CODE", _("Waiting for QR scan")
        PASSKEY_REQUIRED = "PASSKEY_REQUIRED", _("Passkey required")
        PASSKEY_CONFIRMATION_REQUIRED = "PASSKEY_CONFIRMATION_REQUIRED", _("Passkey confirmation required")
        WORKING = "WORKING", _("Working")
        FAILED = "FAILED", _("Failed")

    provider = models.CharField(_("provider"), max_length=16, choices=Provider.choices, default=Provider.WAHA)
    name = models.CharField(_("name"), max_length=120, help_text=_("A name operators recognise, e.g. 'Store front desk'."))
    session_name = models.CharField(_("session name"),
        max_length=64, unique=True,
        validators=[RegexValidator(r"^[A-Za-z0-9_-]+$", "Use only letters, digits, '-' and '_'.")],
        help_text=_("The WAHA session name (letters, digits, '-' and '_')."),
    )
    status = models.CharField(_("status"), max_length=32, choices=Status.choices, default=Status.STOPPED)
    status_changed_at = models.DateTimeField(_("status changed at"), null=True, blank=True)
    me = models.JSONField(_("me"), null=True, blank=True, help_text=_("The WhatsApp account WAHA reports (id, pushName)."))
    should_run = models.BooleanField(_("should run"),
        default=True, help_text=_("Whether the session ought to run; the health monitor restarts it when it does not.")
    )
    last_error = models.TextField(_("last error"), blank=True, help_text=_("The last WAHA error for this channel, if any."))
    restart_attempts = models.PositiveSmallIntegerField(_("restart attempts"),
        default=0, editable=False, help_text=_("Restarts the health monitor tried since the session last worked.")
    )
    next_restart_at = models.DateTimeField(_("next restart at"), null=True, blank=True, editable=False)
    webhook_token = models.CharField(_("webhook token"),
        max_length=64, unique=True, default=new_webhook_token, editable=False,
        help_text=_("Secret part of the URL WAHA posts events to."),
    )
    hmac_key = models.CharField(_("hmac key"),
        max_length=128, default=new_hmac_key, editable=False,
        help_text=_("Key WAHA signs this channel's webhooks with, unless WAHA_WEBHOOK_HMAC_KEY is set."),
    )
    # --- The send governor (whatsapp/governor.py, whatsapp/outbox.py) ---
    send_profile = models.CharField(_("send profile"),
        max_length=16, blank=True, choices=SEND_PROFILES,
        help_text=_("How this number sends: paced, in send windows, typing first. Empty: at once, ungoverned."),
    )
    send_limits = models.JSONField(_("send limits"),
        default=dict, blank=True,
        help_text=_('Overrides of the profile\'s values, e.g. {"per_minute": 5, "window_start": "09:00"}.'),
    )
    outreach_paused_at = models.DateTimeField(_("outreach paused at"),
        null=True, blank=True, help_text=_("Since when sends to new contacts wait (replies still go).")
    )
    outreach_paused_reason = models.TextField(_("outreach paused reason"), blank=True, help_text=_("Why outreach to new contacts is paused."))
    outreach_resume_at = models.DateTimeField(_("outreach resume at"),
        null=True, blank=True, help_text=_("When a paused outreach resumes on its own (the profile's cool-down); "
                                         "empty while paused: only by hand.")
    )
    send_failures_in_row = models.PositiveIntegerField(_("send failures in row"), default=0, editable=False)
    send_pump_due = models.DateTimeField(_("send pump due"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("channel")
        verbose_name_plural = _("channels")
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.session_name})"

    def clean(self) -> None:
        try:
            governor.limits_for(self.send_profile, self.send_limits)
        except governor.BadLimits as exc:
            raise ValidationError({"send_limits": str(exc)}) from None

    @property
    def limits(self) -> "governor.Limits | None":
        """The governor's limits for this channel: its profile with its overrides; None when not governed."""
        return governor.limits_for(self.send_profile, self.send_limits)

    # --- Provider --------------------------------------------------------------------------

    def client(self) -> "WahaClient | DevClient":
        """Who this channel talks to: its own provider's client (see client_for)."""
        return client_for(self.provider)

    @property
    def is_dev(self) -> bool:
        """A development channel: nothing it "sends" reaches anyone."""
        return self.provider == self.Provider.DEV

    # --- Webhook configuration -------------------------------------------------------------

    @property
    def webhook_url(self) -> str:
        return settings.PUBLIC_BASE_URL + reverse("whatsapp:webhook", args=[self.webhook_token])

    @property
    def webhook_hmac_key(self) -> str:
        """The key WAHA signs with: one deployment-wide key when set, else the channel's own."""
        return settings.WAHA_WEBHOOK_HMAC_KEY or self.hmac_key

    def session_config(self) -> dict:
        """The WAHA session config: our webhook, signed, with an explicit retry policy."""
        return {"webhooks": [{
            "url": self.webhook_url,
            "events": list(SESSION_EVENTS),
            "hmac": {"key": self.webhook_hmac_key},
            "retries": dict(WEBHOOK_RETRIES),
        }]}

    # --- Session lifecycle -----------------------------------------------------------------

    def create_session(self, start: bool = True) -> bool:
        """Create the session in WAHA with our webhook configured, and start it.

        Touches only WAHA and this instance's fields (status, should_run): callers save
        after, so a WAHA refusal leaves nothing behind. A session of that name that already
        exists in WAHA is adopted: its config is replaced with ours, then it is started.
        Returns True when the session is new, False when an existing one was adopted.
        """
        client = self.client()
        created = True
        try:
            info = client.create_session(self.session_name, self.session_config(), start=start)
        except WahaError as exc:
            if exc.status != 422 or not self._exists_in_waha(client):
                raise
            created = False
            info = client.update_session(self.session_name, self.session_config())
            if start:
                info = client.start_session(self.session_name)
        self.should_run = start
        self.status = (info or {}).get("status") or (self.Status.STARTING if start else self.Status.STOPPED)
        self.status_changed_at = timezone.now()
        self.last_error = ""
        return created

    def _exists_in_waha(self, client: WahaClient) -> bool:
        try:
            client.get_session(self.session_name)
        except WahaError:
            return False
        return True

    def provision(self, start: bool = True) -> None:
        """Save the channel with its first status, then create its session in WAHA (or on
        the development channel, per current_provider()).

        Saved first, and committed when called outside a transaction, because WAHA may
        post the session's first status before it answers: the webhook must find the
        channel's token. If WAHA refuses, the channel is deleted again and WahaError
        propagates: nothing is left behind.
        """
        asked_at = timezone.now()
        self.provider = current_provider()  # a channel keeps the provider it was created with
        self.should_run, self.status_changed_at = start, asked_at
        self.status = self.Status.STARTING if start else self.Status.STOPPED
        with transaction.atomic():
            self.save()
            self.record_status_change("", self.status, asked_at, ChannelStatusChange.Source.CREATE)
        try:
            self.create_session(start=start)
        except Exception:
            self.delete()
            raise
        self._store_created_status(asked_at)

    def _store_created_status(self, asked_at: datetime) -> None:
        """Keep the status WAHA answered the create with, unless a webhook already told us newer."""
        answered = self.status
        self.refresh_from_db(fields=["status", "status_changed_at", "me", "last_error"])
        # As of asked_at: a status WAHA posted while we waited for its answer is newer and stays.
        self.set_status(answered, at=asked_at, source=ChannelStatusChange.Source.CREATE)

    def push_config(self) -> None:
        """Send our session config (webhook, HMAC key, retries) to WAHA again; it restarts the session."""
        try:
            self.client().update_session(self.session_name, self.session_config())
        except WahaError as exc:
            self.record_error(str(exc))
            raise

    def start(self, source: str = "admin") -> None:
        self._act(self.client().start_session, should_run=True, source=source)

    def stop(self, source: str = "admin") -> None:
        self._act(self.client().stop_session, should_run=False, source=source)

    def restart(self, source: str = "admin") -> None:
        self._act(self.client().restart_session, should_run=True, source=source)

    def logout(self, source: str = "admin") -> None:
        """Unlink the WhatsApp account; WAHA restarts the session, which then needs a new QR."""
        self._act(self.client().logout_session, should_run=True, source=source)
        Channel.objects.filter(pk=self.pk).update(me=None)
        self.me = None

    def _act(self, call, should_run: bool, source: str) -> None:
        """Run one WAHA session action; store the new status, or the error, then re-raise it."""
        try:
            info = call(self.session_name) or {}
        except WahaError as exc:
            self.record_error(str(exc))
            raise
        fields = {"should_run": should_run, "last_error": ""}
        if source != ChannelStatusChange.Source.MONITOR:
            fields.update(restart_attempts=0, next_restart_at=None)  # an operator's action: fresh monitor tries
        Channel.objects.filter(pk=self.pk).update(**fields, updated_at=timezone.now())
        for name, value in fields.items():
            setattr(self, name, value)
        if info.get("status"):
            self.set_status(info["status"], source=source)

    def refresh_status(self, source: str = "admin") -> bool:
        """Ask WAHA for the session's status and account; True when the status changed."""
        try:
            info = self.client().get_session(self.session_name) or {}
        except WahaError as exc:
            self.record_error(str(exc))
            raise
        if "me" in info:
            self.set_me(info["me"])
        return self.set_status(info.get("status") or self.Status.STOPPED, source=source)

    def delete_session(self) -> None:
        """Remove the session from WAHA (a session WAHA no longer knows counts as removed)."""
        try:
            self.client().delete_session(self.session_name)
        except WahaError as exc:
            if exc.status != 404:
                raise

    def record_error(self, error: str) -> None:
        Channel.objects.filter(pk=self.pk).update(last_error=error[:2000], updated_at=timezone.now())
        self.last_error = error[:2000]

    # --- Status ----------------------------------------------------------------------------

    def set_status(self, status: str, at: datetime | None = None, source: str = "", detail: str = "") -> bool:
        """Move to ``status`` as of ``at`` and keep the change in the history.

        Returns False when nothing changed: the same status again, or a report older than
        the change already stored (webhooks can arrive out of order, retries late).
        """
        at = at or timezone.now()
        with transaction.atomic():
            current = Channel.objects.select_for_update().only("status", "status_changed_at").get(pk=self.pk)
            if current.status == status or (current.status_changed_at and at < current.status_changed_at):
                return False
            self.record_status_change(current.status, status, at, source, detail)
            fields = {"status": status, "status_changed_at": at}
            if status == self.Status.WORKING:
                fields.update(restart_attempts=0, next_restart_at=None, last_error="")
            Channel.objects.filter(pk=self.pk).update(**fields, updated_at=timezone.now())
        for name, value in fields.items():
            setattr(self, name, value)
        return True

    def record_status_change(self, previous: str, status: str, at: datetime, source: str, detail: str = "") -> None:
        ChannelStatusChange.objects.create(
            channel=self, previous_status=previous, status=status, at=at, source=source, detail=detail[:500]
        )

    def set_me(self, me: dict | None) -> None:
        if me != self.me:
            Channel.objects.filter(pk=self.pk).update(me=me, updated_at=timezone.now())
            self.me = me

    @property
    def is_working(self) -> bool:
        return self.status == self.Status.WORKING

    @property
    def connected_as(self) -> str:
        """'Name (+5511999999999)' for the account of a WORKING session, else ''.

        ``me`` outlives a stop or a failure (WAHA still reports the last account), but
        nothing is connected as it until the session works again.
        """
        if not self.me or not self.is_working:
            return ""
        number = str(self.me.get("id", "")).split("@", 1)[0]
        name = self.me.get("pushName") or ""
        phone = f"+{number}" if number.isdigit() else number
        return f"{name} ({phone})" if name and phone else name or phone

    # --- Login -----------------------------------------------------------------------------

    def login_state(self) -> dict:
        """What the QR page shows: the status, the QR while one is to be scanned, the account once in."""
        state = {"status": self.status, "status_display": self.get_status_display(), "qr": None,
                 "connected_as": "", "error": ""}
        try:
            if self.status == self.Status.SCAN_QR_CODE:
                state["qr"] = "data:image/png;base64," + base64.b64encode(self.qr_png()).decode()
            elif self.is_working and not self.me:
                self.set_me(self.client().get_me(self.session_name))
        except WahaError as exc:
            state["error"] = str(exc)
        state["connected_as"] = self.connected_as
        return state

    def qr_png(self) -> bytes:
        """The QR to scan now, as PNG. WahaError (422) unless the session is SCAN_QR_CODE."""
        return self.client().get_qr_image(self.session_name)

    def request_pairing_code(self, phone_number: str) -> str:
        """A code to type in WhatsApp ("Link with phone number") instead of scanning the QR."""
        digits = "".join(ch for ch in phone_number if ch.isdigit())
        if not 8 <= len(digits) <= 15:
            raise ValueError("Write the phone number with its country code, e.g. +55 11 99999-9999.")
        answer = self.client().request_code(self.session_name, digits)
        return str(answer.get("code") or "")

    # --- Sending ---------------------------------------------------------------------------

    def send_text(self, chat_id: str, text: str) -> str:
        """Send one text; returns WAHA's message id ('' when the engine gives none).

        Sends without keeping a record: ChronoFlow's own messages go through send_and_record.
        """
        answer = self.client().send_text(self.session_name, chat_id, text)
        return message_id_from(answer, chat_id)

    def send_content(self, chat_id: str, text: str, attachment: Attachment | None = None) -> str:
        """Send a text, or ``attachment`` with ``text`` as its caption (sendImage, sendFile, sendVoice,
        sendVideo); WAHA's message id. Unrecorded, like send_text."""
        if attachment is None:
            return self.send_text(chat_id, text)
        answer = attachment.send(self.client(), self.session_name, chat_id)
        return message_id_from(answer, chat_id)

    def send_and_record(self, chat_id: str, text: str, recipient: str = "", run=None,
                        resume: bool = False, zone: str = "", attachment: Attachment | None = None,
                        queue: bool = False) -> "Message":
        """Send one text, kept as an outbound Message: how ChronoFlow messages anyone.

        With an ``attachment`` (whatsapp/attachments.py) the message is that file, with ``text``
        (else the attachment's own caption) as its caption; the row keeps both, so a queued one
        goes out the same way. The caller checks the attachment first (``Attachment.check``).

        The rule that no WhatsApp user gets a message twice lives here. The row is marked
        ``sending`` before WAHA is called; a send WAHA may have carried out without answering
        ends ``unconfirmed`` and is never sent again. With a ``run``, the run keeps one row
        per chat: another send to that chat raises AlreadyMessaged, unless ``resume`` (a
        retry of the run going on where it stopped), which sends again only a row that
        failed, returns one sent, unconfirmed or queued as it is, and turns one an attempt
        left ``sending`` (it died mid-call) into ``unconfirmed``.

        A governed channel (a ``send_profile``) does not send here: the row is returned
        ``queued`` and the outbox (whatsapp/outbox.py) sends it when the governor allows,
        in the send window of the recipient's time zone: the contact's (``signals.recipient_timezone``),
        else ``zone`` (the chrono's), else DEFAULT_TIMEZONE. ``queue`` sends through the outbox on
        an ungoverned channel too (unpaced): the caller's transaction then holds the row, not a WAHA call.

        Nobody who said stop hears from us again: a send that a before_send receiver vetoes
        (the contacts app: opted out, not on WhatsApp) is recorded as ``suppressed`` with the
        reason and never reaches WAHA.

        Returns the row; raises SendFailed, a WahaError, once WAHA's refusal is on the row.
        """
        if attachment is not None:
            text = text or attachment.caption
            attachment = Attachment(**{**attachment.as_stored(), "caption": text})
        stored = attachment.as_stored() if attachment is not None else None
        reason = signals.suppression_reason(self, chat_id)
        if reason:
            return Message.record_suppressed(self, chat_id, text, recipient, run, reason, attachment=stored)
        governed = bool(self.send_profile) or queue
        message, go = Message.claim(self, chat_id, text, recipient, run, resume, queued=governed, attachment=stored)
        if not go:
            return message
        if governed:
            message.enqueue(zone)
            return message
        try:
            waha_id = self.send_content(chat_id, text, attachment)
        except WahaError as exc:
            message.record_refusal(exc)
            raise SendFailed(message, exc) from None
        message.mark(Message.Status.SENT, waha_message_id=waha_id)
        return message

    # --- Outreach pause (ban signals) ----------------------------------------------------------

    def pause_outreach(self, reason: str, now: datetime | None = None, until: datetime | None = None) -> bool:
        """Hold sends to new contacts (replies go on); True, and one announcement, the first time.

        Resumes on its own at ``until`` (when WhatsApp says the lock ends), else after the
        profile's cool-down, else only by hand. The session is left alone: restarting or
        re-pairing does not lift WhatsApp's lock.
        """
        now = now or timezone.now()
        limits = self.limits
        resume_at = until or (now + timedelta(hours=limits.cooldown_h) if limits and limits.cooldown_h else None)
        fields = {"outreach_paused_at": now, "outreach_paused_reason": reason[:2000], "outreach_resume_at": resume_at}
        if not Channel.objects.filter(pk=self.pk, outreach_paused_at__isnull=True).update(**fields):
            return False  # paused already: the operator was told then
        for name, value in fields.items():
            setattr(self, name, value)
        signals.outreach_paused.send(sender=Channel, channel=self, reason=reason)
        return True

    def resume_outreach(self) -> None:
        """Let sends to new contacts go again (an operator's action, or the cool-down's end)."""
        fields = {"outreach_paused_at": None, "outreach_paused_reason": "", "outreach_resume_at": None,
                  "send_failures_in_row": 0}
        Channel.objects.filter(pk=self.pk).update(**fields, updated_at=timezone.now())
        for name, value in fields.items():
            setattr(self, name, value)
        kick_pump(self.pk)

    @property
    def outreach_paused(self) -> bool:
        return self.outreach_paused_at is not None


PUMP_TASK = "whatsapp.tasks.pump_sends"


def kick_pump(channel_id: int, countdown: float = 0) -> None:
    """Ask the workers to look at a channel's outbox once the transaction has committed.

    By task name, since tasks.py imports this module; the periodic pump catches anything missed.
    """
    def send() -> None:
        from chronoflow.celery import app  # the project's app, built after Django's settings

        if PUMP_TASK not in app.tasks:
            app.loader.import_default_modules()
        app.tasks[PUMP_TASK].apply_async(kwargs={"channel_id": channel_id}, countdown=countdown or None)

    transaction.on_commit(send)


class AlreadyMessaged(Exception):
    """The run already has a message to this chat (one per run and chat), so none is sent."""


class SendFailed(WahaError):
    """WAHA did not take the message: WAHA's error, and ``row``, the Message that records it."""

    def __init__(self, row: "Message", cause: WahaError) -> None:
        super().__init__(cause.message, cause.status, cause.permanent, cause.delivery_unknown)
        self.row = row


def message_id_from(answer: object, chat_id: str) -> str:
    """The full message id (``true_<chat>_<id>``) from a send answer, whatever the engine.

    WEBJS answers a WAMessage (``id`` a string, or ``{_serialized}``), NOWEB its native
    ``{key: {id}}``, some versions nothing at all (README §5.3).
    """
    if not isinstance(answer, dict):
        return ""
    ident = answer.get("id")
    if isinstance(ident, dict):
        ident = ident.get("_serialized") or ident.get("id")
    if isinstance(ident, str) and ident:
        return ident if "_" in ident else f"true_{chat_id}_{ident}"
    key = answer.get("key")
    if isinstance(key, dict) and key.get("id"):
        return f"true_{chat_id}_{key['id']}"
    return ""


class ChannelStatusChange(models.Model):
    """One change of a channel's status: when, from what, to what, and who said so."""

    class Source(models.TextChoices):
        CREATE = "create", _("Channel created")
        WEBHOOK = "webhook", _("WAHA webhook")
        ADMIN = "admin", _("Admin")
        API = "api", _("API")
        MONITOR = "monitor", _("Health monitor")

    channel = models.ForeignKey(Channel, verbose_name=_("channel"), on_delete=models.CASCADE, related_name="status_changes")
    previous_status = models.CharField(_("previous status"), max_length=32, blank=True)
    status = models.CharField(_("status"), max_length=32)
    at = models.DateTimeField(_("at"), help_text=_("When WAHA reported the change (or we saw it)."))
    source = models.CharField(_("source"), max_length=16, choices=Source.choices, blank=True)
    detail = models.CharField(_("detail"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("channel status change")
        verbose_name_plural = _("channel status changes")
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["channel", "-at"])]

    def __str__(self) -> str:
        return f"{self.channel.session_name}: {self.previous_status or '—'} → {self.status}"


REPLY, OUTREACH = 0, 10  # outbox priorities: lower goes first


class Message(models.Model):
    """A WhatsApp message ChronoFlow sent or received."""

    class Direction(models.TextChoices):
        IN = "in", _("Inbound")
        OUT = "out", _("Outbound")

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        UNCONFIRMED = "unconfirmed", _("Unconfirmed (WAHA did not answer; not resent)")
        FAILED = "failed", _("Failed")
        DELIVERED = "delivered", _("Delivered")
        READ = "read", _("Read")
        RECEIVED = "received", _("Received")
        SUPPRESSED = "suppressed", _("Not sent: the contact opted out (or cannot be messaged)")

    # Acks only move a message forward: a late SERVER ack never undoes DELIVERED.
    PROGRESS = [Status.SENT, Status.DELIVERED, Status.READ]
    ACK_STATUS = {1: Status.SENT, 2: Status.DELIVERED, 3: Status.READ, 4: Status.READ}
    ACK_ERROR = -1  # WhatsApp refused the message after WAHA accepted it
    DONE = (Status.SENT, Status.DELIVERED, Status.READ)

    channel = models.ForeignKey(Channel, verbose_name=_("channel"), on_delete=models.CASCADE, related_name="messages")
    direction = models.CharField(_("direction"), max_length=3, choices=Direction.choices)
    chat_id = models.CharField(_("chat id"), max_length=128, help_text=_("Who the message is to (out) or the chat it came in (in)."))
    recipient = models.CharField(_("recipient"), max_length=128, blank=True, help_text=_("Out: the recipient as the chrono lists it."))
    sender = models.CharField(_("sender"), max_length=128, blank=True, help_text=_("In: who wrote it (the member, in a group)."))
    is_group = models.BooleanField(_("is group"), default=False)
    text = models.TextField(_("text"), blank=True)
    media = models.JSONField(_("media"),
        null=True, blank=True,
        help_text=_("In: WAHA's media metadata (url, mimetype, filename, error) and how its download went "
                  "(stored, size, download_error)."),
    )
    attachment = models.JSONField(
        _("attachment"), null=True, blank=True,
        help_text=_("Out: the file sent with the text as its caption (kind, url or stored file, filename, mimetype)."),
    )
    media_file = models.FileField(_("media file"),
        upload_to=media_files.upload_to, storage=media_files.media_storage, max_length=255, blank=True,
        editable=False, help_text=_("In: the media itself, downloaded from WAHA before its URL expired."),
    )
    waha_message_id = models.CharField(_("waha message id"), max_length=255, blank=True, db_index=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.QUEUED)
    error = models.TextField(_("error"), blank=True)
    timestamp = models.DateTimeField(_("timestamp"), null=True, blank=True, help_text=_("When WhatsApp says it was sent."))
    run = models.ForeignKey(
        "automations.ChronoRun", verbose_name=_("run"), null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    # --- Governed sends wait in the outbox (whatsapp/outbox.py) as status queued ---
    not_before = models.DateTimeField(_("not before"), null=True, blank=True, help_text=_("Out, queued: not sent before this."))
    priority = models.PositiveSmallIntegerField(_("priority"), default=0, help_text=_("Out, queued: lower goes first (replies 0)."))
    first_contact = models.BooleanField(_("first contact"), default=False, help_text=_("Out: nobody wrote from this chat in the 24 h before."))
    send_zone = models.CharField(_("send zone"), max_length=64, blank=True, help_text=_("Out: the recipient's time zone (send window)."))
    typing_until = models.DateTimeField(_("typing until"), null=True, blank=True, help_text=_("Out, queued: typing shown; send after this."))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["channel", "-created_at"]),
                   models.Index(fields=["channel", "status", "priority", "not_before"], name="message_outbox")]
        constraints = [
            # The retry guard: a run has one row per chat, so a retry finds what was sent.
            models.UniqueConstraint(fields=["run", "chat_id"], name="one_message_per_run_and_chat"),
            models.UniqueConstraint(
                fields=["channel", "waha_message_id"], condition=models.Q(direction="in") & ~models.Q(waha_message_id=""),
                name="inbound_message_stored_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_direction_display()} {self.chat_id}: {self.text[:40]}"

    @property
    def outbound_attachment(self) -> Attachment | None:
        """The attachment this outbound row sends, its text the caption; None for a text."""
        return Attachment.from_stored(self.attachment, caption=self.text)

    def mark(self, status: str, error: str = "", waha_message_id: str = "") -> None:
        self.status, self.error = status, error[:2000]
        self.waha_message_id = waha_message_id or self.waha_message_id
        self.save(update_fields=["status", "error", "waha_message_id", "updated_at"])

    # --- Inbound media ---------------------------------------------------------------------

    def keep_media(self) -> None:
        """Download the media WAHA announced and store it; the outcome goes into ``media``.

        Never raises: a file that cannot be had (too big, expired, WAHA down, storage
        failing) must not lose the message or hold back its triggers. Done once: a
        redelivered message whose file is stored is left alone.
        """
        if not self.media or self.media_file:
            return
        if not self.media.get("url"):  # WAHA's download is off (WHATSAPP_DOWNLOAD_MEDIA) or failed
            self._record_media(stored=False, download_error="WAHA gave no media URL"
                               + (f" (WAHA: {self.media['error']})." if self.media.get("error") else "."))
            return
        try:
            file = media_files.fetch(self.channel.client(), self.media)
            mimetype = self.media.get("mimetype") or file.mimetype
            self.media_file.save(media_files.safe_filename(self.media.get("filename"), mimetype),
                                 ContentFile(file.content), save=False)
        except WahaError as exc:
            self._record_media(stored=False, download_error=str(exc))
        except Exception as exc:  # any storage backend's failure: recorded, the message goes on
            logger.exception("Could not store the media of message %s", self.pk)
            self.media_file = ""  # whatever half-saved name the backend gave is not a file we have
            self._record_media(stored=False, download_error=f"Could not store the file ({type(exc).__name__}).")
        else:
            self._record_media(stored=True, size=len(file.content), mimetype=mimetype, download_error="")

    def _record_media(self, **outcome) -> None:
        self.media = {**self.media, **outcome}
        self.save(update_fields=["media", "media_file", "updated_at"])

    def media_response(self):
        """The stored file as a response (for the admin and the signed link), or None without one."""
        if not self.media_file:
            return None
        filename = os.path.basename(self.media_file.name).split("-", 1)[-1]  # without the "<pk>-" prefix
        try:
            return media_files.file_response(self.media_file, (self.media or {}).get("mimetype") or "", filename)
        except OSError:  # removed from the storage behind our back
            logger.warning("The stored media of message %s is missing from its storage", self.pk)
            return None

    def media_for_input(self) -> dict | None:
        """The media as a run's input shows it: a signed link to the stored file, not WAHA's URL.

        WAHA's URL expires and needs the API key; ``url`` is ours, valid
        WHATSAPP_MEDIA_LINK_MAX_AGE_S, or None when the file was not kept (see ``download_error``).
        """
        if not self.media:
            return None
        shown = {key: self.media.get(key) for key in ("mimetype", "filename", "size", "error", "download_error")}
        return {**shown, "url": media_files.link_url(self.pk) if self.media_file else None}

    # --- Outbound: the rows behind Channel.send_and_record -------------------------------

    @classmethod
    def claim(cls, channel: Channel, chat_id: str, text: str, recipient: str = "", run=None,
              resume: bool = False, queued: bool = False, attachment: dict | None = None) -> "tuple[Message, bool]":
        """The outbound row for one send and whether to send (or, ``queued``, enqueue) it now.

        The row is ``sending``, or ``queued`` for a governed channel. A run has one row per
        chat (one_message_per_run_and_chat): a second claim raises AlreadyMessaged, or with
        ``resume`` returns the earlier row, to be sent only if it failed before reaching WAHA.
        """
        status = cls.Status.QUEUED if queued else cls.Status.SENDING
        try:
            with transaction.atomic():
                return cls.objects.create(
                    channel=channel, direction=cls.Direction.OUT, chat_id=chat_id, recipient=str(recipient)[:128],
                    text=text, run=run, status=status, is_group=chat_id.endswith("@g.us"), attachment=attachment,
                ), True
        except IntegrityError:  # the run has a row for this chat already
            if not resume:
                raise AlreadyMessaged(f"This run already sent a message to {chat_id}; "
                                      "one message per recipient per run.") from None
        earlier = cls.objects.get(run=run, chat_id=chat_id)
        return earlier, earlier._resend(text, status)

    @classmethod
    def record_suppressed(cls, channel: Channel, chat_id: str, text: str, recipient: str, run, reason: str,
                          attachment: dict | None = None) -> "Message":
        """The row of a send that must not happen; an earlier attempt's sent row stays as it was."""
        message, created = cls.objects.get_or_create(
            run=run, chat_id=chat_id, direction=cls.Direction.OUT,
            defaults={"channel": channel, "recipient": str(recipient)[:128], "text": text, "attachment": attachment,
                      "status": cls.Status.SUPPRESSED, "error": reason, "is_group": chat_id.endswith("@g.us")},
        ) if run is not None else (cls.objects.create(
            channel=channel, direction=cls.Direction.OUT, chat_id=chat_id, recipient=str(recipient)[:128], text=text,
            attachment=attachment, status=cls.Status.SUPPRESSED, error=reason, is_group=chat_id.endswith("@g.us")), True)
        if not created and message.status in (cls.Status.QUEUED, cls.Status.FAILED):
            message.mark(cls.Status.SUPPRESSED, reason)
        return message

    def _resend(self, text: str, status: str = "sending") -> bool:
        """Whether an earlier attempt's row may be sent again, now with ``text``; marks it ``status`` if so."""
        if self.status in self.DONE or self.status in (self.Status.UNCONFIRMED, self.Status.QUEUED):
            return False  # gone, perhaps gone, or waiting in the outbox already
        if self.status == self.Status.SENDING:  # an attempt died between sending and recording
            self.mark(self.Status.UNCONFIRMED,
                      "An earlier attempt stopped mid-send; not sent again so nobody gets it twice.")
            return False
        # Mark before calling WAHA: if we die mid-call, the next attempt knows not to resend.
        self.text, self.status, self.error = text, status, ""
        self.save(update_fields=["text", "status", "error", "updated_at"])
        return True

    # Accepted for sending: gone, or waiting its turn in a governed channel's outbox.
    ACCEPTED = (*DONE, Status.QUEUED)

    def enqueue(self, zone: str = "", now: datetime | None = None) -> None:
        """Put this ``queued`` row in its channel's outbox: a reply to someone who wrote in the
        last 24 h goes before first contacts (campaigns, schedules), and counts on the reply budget.
        The recipient's zone is settled here, once, and kept on the row (``send_zone``)."""
        now = now or timezone.now()
        replying = Message.objects.filter(channel_id=self.channel_id, direction=self.Direction.IN, chat_id=self.chat_id,
                                          created_at__gte=now - timedelta(hours=24)).exists()
        self.first_contact, self.priority = not replying, REPLY if replying else OUTREACH
        # Quiet hours are the recipient's: a contact's own zone wins over the chrono's (``zone``).
        zone = signals.recipient_zone(self.channel, self.chat_id) or zone or settings.DEFAULT_TIMEZONE
        self.send_zone, self.not_before, self.typing_until = zone, now, None
        self.save(update_fields=["first_contact", "priority", "send_zone", "not_before", "typing_until",
                                 "updated_at"])
        kick_pump(self.channel_id)

    def record_refusal(self, exc: WahaError) -> None:
        """A send that raised: ``unconfirmed`` when WAHA may have sent it anyway, else ``failed``."""
        if exc.delivery_unknown:
            self.mark(self.Status.UNCONFIRMED, f"{exc} — it may have been sent; not sent again so nobody gets it twice.")
        else:
            self.mark(self.Status.FAILED, str(exc))

    @classmethod
    def flag_unacknowledged(cls, now=None) -> int:
        """Note on sent messages that no delivery ack followed within WHATSAPP_ACK_TIMEOUT_S.

        WhatsApp accepts a send to a number that does not exist (often the Brazilian 9th
        digit) and never delivers it: the status stays ``sent`` for ever, which reads as fine.
        The note says so; the status stays ``sent`` (an ack arriving later still moves it on).
        """
        now = now or timezone.now()
        timeout = settings.WHATSAPP_ACK_TIMEOUT_S
        note = (f"No delivery ack {timeout // 60} min after it was sent: the phone may be off, or the number "
                "may not be on WhatsApp (check the 9th digit of Brazilian mobiles).")
        overdue = cls.objects.filter(direction=cls.Direction.OUT, status=cls.Status.SENT, error="",
                                     updated_at__lt=now - timedelta(seconds=timeout),
                                     updated_at__gte=now - timedelta(days=7))  # older ones were looked at already
        return overdue.update(error=note)

    @classmethod
    def apply_ack(cls, channel: Channel, message_id: str, ack: object) -> int:
        """Move our outbound message(s) with this WAHA id forward to the ack's status.

        An ERROR ack fails a message not yet delivered; one delivered or read stays so.
        """
        if not isinstance(ack, int) or not message_id:
            return 0
        mine = cls.objects.filter(channel=channel, direction=cls.Direction.OUT, waha_message_id__in=_id_forms(message_id))
        if ack == cls.ACK_ERROR:
            return mine.filter(status__in=[cls.Status.QUEUED, cls.Status.SENDING, cls.Status.SENT]).update(
                status=cls.Status.FAILED, error="WhatsApp reported an error for this message (ack ERROR).",
                updated_at=timezone.now())
        status = cls.ACK_STATUS.get(ack)
        if status is None:
            return 0
        earlier = [cls.Status.QUEUED, cls.Status.SENDING, *cls.PROGRESS[: cls.PROGRESS.index(status)]]
        return mine.filter(status__in=earlier).update(status=status, updated_at=timezone.now())

    @classmethod
    def record_inbound(cls, channel: Channel, payload: dict) -> "Message | None":
        """Store a received message once (WAHA may deliver the same message twice)."""
        chat = str(payload.get("from") or "")
        if not chat or payload.get("fromMe"):
            return None  # our own phone's messages: record_from_phone
        fields = {
            "chat_id": chat[:128],
            "sender": str(payload.get("participant") or payload.get("author") or chat)[:128],
            "is_group": chat.endswith("@g.us"),
            "text": str(payload.get("body") or ""),
            "media": _media_metadata(payload),
            "timestamp": _from_epoch_s(payload.get("timestamp")),
            "status": cls.Status.RECEIVED,
        }
        waha_id = str(payload.get("id") or "")[:255]
        if not waha_id:
            return cls.objects.create(channel=channel, direction=cls.Direction.IN, **fields)
        try:
            with transaction.atomic():
                message, _ = cls.objects.get_or_create(
                    channel=channel, direction=cls.Direction.IN, waha_message_id=waha_id, defaults=fields
                )
        except IntegrityError:  # the same message, stored by a concurrent delivery
            message = cls.objects.get(channel=channel, direction=cls.Direction.IN, waha_message_id=waha_id)
        return message


    @classmethod
    def record_from_phone(cls, channel: Channel, payload: dict) -> "Message | None":
        """Keep a message the business's own phone sent (an operator typing), once, as outbound with no run.

        None for ChronoFlow's own sends (WAHA's source "api", or a row of ours with that id or
        still being sent with that text) and for a message already recorded.
        """
        waha_id, text = str(payload.get("id") or "")[:255], str(payload.get("body") or "")
        chat = _phone_chat(channel, payload, waha_id)
        if not chat or payload.get("source") == "api":
            return None
        ours = cls.objects.filter(channel=channel, direction=cls.Direction.OUT)
        if waha_id and ours.filter(waha_message_id__in=_id_forms(waha_id)).exists():
            return None
        # WAHA may tell of our send before it answered the send call (the row has no id yet).
        if ours.filter(chat_id=chat, text=text, status__in=[cls.Status.SENDING, cls.Status.QUEUED]).exists():
            return None
        return cls.objects.create(channel=channel, direction=cls.Direction.OUT, chat_id=chat[:128], text=text,
                                  waha_message_id=waha_id, status=cls.Status.SENT, is_group=chat.endswith("@g.us"),
                                  timestamp=_from_epoch_s(payload.get("timestamp")))


def _phone_chat(channel: Channel, payload: dict, waha_id: str) -> str:
    """The chat a message from our own phone went to.

    The id names it in every engine (``true_<chat>_<id>``); else whichever of ``to`` and
    ``from`` is not our own account (WEBJS puts us in ``from``, NOWEB the chat).
    """
    parts = waha_id.split("_")
    if len(parts) >= 3 and parts[0] == "true" and "@" in parts[1]:
        return parts[1]
    own = str((channel.me or {}).get("id") or "")
    for candidate in (payload.get("to"), payload.get("from")):
        if candidate and str(candidate) != own:
            return str(candidate)
    return ""


def _id_forms(message_id: str) -> list[str]:
    """The ack's id as given, without a group member's ``_<participant>`` suffix, and bare.

    A group ack names the member it is from (``true_<group>_<id>_<participant>``); the
    bare id is what some engines answered a send with.
    """
    parts = message_id.split("_")
    if len(parts) < 3 or parts[0] not in ("true", "false"):
        return [message_id]
    return list(dict.fromkeys([message_id, "_".join(parts[:3]), parts[2]]))


def _from_epoch_s(value: object) -> datetime | None:
    try:
        return datetime.fromtimestamp(float(value), tz=dt_timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _media_metadata(payload: dict) -> dict | None:
    media = payload.get("media")
    if not payload.get("hasMedia") and not media:
        return None
    media = media if isinstance(media, dict) else {}
    # WAHA's URL as given: Message.keep_media fetches its path from our WAHA_BASE_URL.
    return {"url": media.get("url"), "mimetype": media.get("mimetype"), "filename": media.get("filename"),
            "error": media.get("error")}


class WebhookEvent(models.Model):
    """A raw event WAHA posted, stored once per (channel, event id) and processed after."""

    channel = models.ForeignKey(Channel, verbose_name=_("channel"), on_delete=models.CASCADE, related_name="webhook_events")
    event_id = models.CharField(_("event id"), max_length=128, help_text=_("The envelope id, or X-Webhook-Request-Id without one."))
    event = models.CharField(_("event"), max_length=64)
    payload = models.JSONField(_("payload"), help_text=_("The whole envelope as WAHA sent it."))
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("webhook event")
        verbose_name_plural = _("webhook events")
        ordering = ["-received_at", "-pk"]
        constraints = [models.UniqueConstraint(fields=["channel", "event_id"], name="webhook_event_stored_once")]

    def __str__(self) -> str:
        return f"{self.event} {self.event_id}"

    @classmethod
    def store(cls, channel: Channel, event_id: str, envelope: dict) -> "tuple[WebhookEvent, bool]":
        """Keep the event unless it was delivered before; (event, created)."""
        defaults = {"event": str(envelope.get("event") or "")[:64], "payload": envelope}
        try:
            with transaction.atomic():
                return cls.objects.get_or_create(channel=channel, event_id=event_id[:128], defaults=defaults)
        except IntegrityError:  # a concurrent redelivery won the insert
            return cls.objects.get(channel=channel, event_id=event_id[:128]), False

    def process(self) -> None:
        """Apply the event to the channel and its messages; idempotent, done once."""
        if self.processed_at:
            return
        handler = {"session.status": self._session_status, "message": self._message,
                   "message.any": self._message_any, "message.ack": self._message_ack, "message.ack.group": self._message_ack}.get(self.event)
        payload = self.payload.get("payload")
        error = ""
        if handler and isinstance(payload, dict):
            handler(payload)  # announces what it stored (whatsapp/signals.py): the event log and triggers listen
        elif handler:
            error = "The event has no payload object."
        self.processed_at, self.error = timezone.now(), error
        self.save(update_fields=["processed_at", "error"])

    def _session_status(self, payload: dict) -> None:
        at = from_epoch_ms(self.payload.get("timestamp"))
        if isinstance(self.payload.get("me"), dict):
            self.channel.set_me(self.payload["me"])
        if payload.get("status"):
            self.channel.set_status(str(payload["status"])[:32], at=at, source=ChannelStatusChange.Source.WEBHOOK)
        self._reachout_timelock(payload)
        signals.session_status_changed.send(sender=Channel, channel=self.channel, status=str(payload.get("status") or ""),
                                            payload=payload, event_id=self.event_id)

    def _reachout_timelock(self, payload: dict) -> None:
        """WAHA 2026.7.2+ names WhatsApp's lock on new contacts (README §5.7): pause, or end our pause."""
        data = payload.get("data") if isinstance(payload.get("data"), dict) else {}
        lock = data.get("reachoutTimelock")
        if not isinstance(lock, dict) or "isActive" not in lock:
            return
        if lock["isActive"]:
            self.channel.pause_outreach("WhatsApp's reachout time lock (WAHA reachoutTimelock, "
                                        f"{lock.get('enforcementType') or 'no type given'}).",
                                        until=_from_epoch_s(lock.get("timeEnforcementEnds")))
        elif self.channel.outreach_paused and "reachout" in self.channel.outreach_paused_reason:
            self.channel.resume_outreach()

    def _message(self, payload: dict) -> None:
        if payload.get("fromMe"):  # some engines deliver our own phone's messages here too
            self._from_phone(payload)
            return
        message = Message.record_inbound(self.channel, payload)
        if message is not None:
            message.keep_media()  # before the signal: triggers see the stored file
            signals.message_stored.send(sender=Message, message=message)

    def _message_any(self, payload: dict) -> None:
        # Only our own phone's messages: the "message" event carries the incoming ones.
        if payload.get("fromMe"):
            self._from_phone(payload)

    def _from_phone(self, payload: dict) -> None:
        message = Message.record_from_phone(self.channel, payload)
        if message is not None:
            signals.operator_replied.send(sender=Message, message=message)

    def _message_ack(self, payload: dict) -> None:
        message_id = str(payload.get("id") or "")
        if Message.apply_ack(self.channel, message_id, payload.get("ack")):
            signals.outbound_acked.send(sender=Message, channel=self.channel, waha_message_ids=_id_forms(message_id))


class MonitorAction(models.Model):
    """What the session health monitor found and did, one row per action."""

    class Action(models.TextChoices):
        STATUS_REPAIRED = "status_repaired", _("Status repaired")
        STARTED = "started", _("Session started")
        RESTARTED = "restarted", _("Session restarted")
        RECREATED = "recreated", _("Session re-created")
        GAVE_UP = "gave_up", _("Gave up restarting")
        FAILED = "failed", _("Action failed")
        UNREACHABLE = "unreachable", _("WAHA unreachable")

    channel = models.ForeignKey(Channel, verbose_name=_("channel"), null=True, blank=True, on_delete=models.CASCADE, related_name="monitor_actions")
    action = models.CharField(_("action"), max_length=16, choices=Action.choices)
    detail = models.TextField(_("detail"), blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("monitor action")
        verbose_name_plural = _("monitor actions")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.get_action_display()}: {self.detail[:60]}"
