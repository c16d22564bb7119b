"""Campaigns: one message to an audience of contacts, with a ledger row per recipient.

A campaign is a Django template over the contact, with variations (``{Olá|Oi}``) picked
per recipient (campaigns/render.py). Starting it writes one ``CampaignRecipient`` per
contact of the audience (campaigns/ledger.py), then each row is sent on its own
(campaigns/sending.py) through the channel's outbox, paced by its governor. The ledger row
is the idempotency key: it is claimed ``queued`` -> ``sending`` in the transaction that
creates its one Message, so a retried task never messages anyone twice.
"""

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from contacts.models import Contact, Tag
from whatsapp import attachments
from whatsapp.models import Channel, Message

# Where each of an attachment's problems shows on the campaign (the caption is the message).
ATTACHMENT_FIELDS = {"kind": "attachment_kind", "url": "attachment_url", "file": "attachment_file",
                     "filename": "attachment_filename", "mimetype": "attachment_mimetype", "caption": "message"}


class Campaign(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("draft")
        SCHEDULED = "scheduled", _("scheduled")
        RUNNING = "running", _("running")
        PAUSED = "paused", _("paused")
        CANCELLED = "cancelled", _("cancelled")
        DONE = "done", _("done")

    name = models.CharField(_("name"), max_length=200)
    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="campaigns", verbose_name=_("channel"))
    message = models.TextField(
        _("message"), blank=True,
        help_text=_("A Django template over the contact: {{ contact.first_name }}, {{ contact.name }}, "
                    "{{ contact.fields.city }}. {Olá|Oi|Bom dia} picks one variation per recipient. "
                    "With an attachment it is the caption, and may be empty."),
    )
    # One file sent with the message as its caption (whatsapp/attachments.py), as a MESSAGE chrono's.
    attachment_kind = models.CharField(
        _("attachment kind"), max_length=16, blank=True, choices=attachments.KIND_CHOICES,
        help_text=_("Send a file, the message being its caption; empty: text only."))
    attachment_url = models.URLField(
        _("attachment URL"), max_length=2000, blank=True,
        help_text=_("The file's http(s) address, which WAHA downloads; or upload the file instead."))
    attachment_file = models.FileField(
        _("attachment file"), upload_to=attachments.upload_to, storage=attachments.storage, max_length=255,
        blank=True, help_text=_("An uploaded file (at most WHATSAPP_ATTACHMENT_MAX_BYTES); or give its URL instead."))
    attachment_filename = models.CharField(
        _("attachment filename"), max_length=200, blank=True,
        help_text=_("The name the recipient sees (documents); empty: the file's own."))
    attachment_mimetype = models.CharField(
        _("attachment mimetype"), max_length=100, blank=True,
        help_text=_("E.g. image/jpeg or application/pdf; empty: guessed from the file's name."))
    tags = models.ManyToManyField(Tag, blank=True, related_name="campaigns", verbose_name=_("audience tags"),
                                  help_text=_("Contacts with any of these tags; none: every contact."))
    send_at = models.DateTimeField(_("send at"), null=True, blank=True,
                                   help_text=_("Empty: as soon as it is started. A later time: it waits until then."))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.DRAFT, db_index=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    dispatched_at = models.DateTimeField(_("last dispatched at"), null=True, blank=True, editable=False)
    last_error = models.TextField(_("last error"), blank=True)
    # A CAMPAIGN chrono (automations/targets/campaign.py) sends a copy of this campaign at each occurrence.
    copied_from = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="copies",
                                    verbose_name=_("copy of"), editable=False)
    occurrence = models.CharField(_("occurrence"), max_length=64, blank=True, editable=False,
                                  help_text=_("The chrono run this copy was sent for (one copy per run)."))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    COPIED_FIELDS = ("channel", "message", "attachment_kind", "attachment_url", "attachment_file",
                     "attachment_filename", "attachment_mimetype")

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        constraints = [models.UniqueConstraint(fields=["occurrence"], condition=~models.Q(occurrence=""),
                                               name="one_campaign_copy_per_occurrence")]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        problems = self.problems()
        if problems:
            raise ValidationError(problems)

    def problems(self) -> dict[str, list[str]]:
        """What stops it from being sent, by field: the message template, the attachment."""
        from campaigns.render import TemplateProblem, check

        found: dict[str, list[str]] = {}
        attachment = self.attachment(caption=self.message)
        if self.message.strip() or attachment is None:  # a file alone needs no text
            try:
                check(self.message)
            except TemplateProblem as problem:
                found["message"] = [str(problem)]
        if attachment is not None:
            for name, problem in attachment.problems(size=self._upload_size()).items():
                if name == "caption" and self.attachment_kind != attachments.AUDIO and "{" in self.message:
                    continue  # a template's length is the rendered text's: checked per recipient
                found.setdefault(ATTACHMENT_FIELDS[name], []).append(problem)
        return found

    def attachment(self, caption: str = "") -> attachments.Attachment | None:
        """The file each recipient gets with ``caption`` (its rendered message); None: text only."""
        if not (self.attachment_kind or self.attachment_url or self.attachment_file):
            return None
        return attachments.Attachment(
            kind=self.attachment_kind, url=self.attachment_url, file=self.attachment_file.name or "",
            filename=self.attachment_filename, mimetype=self.attachment_mimetype, caption=caption)

    def _upload_size(self) -> int | None:
        if not self.attachment_file:
            return None
        try:
            return self.attachment_file.size
        except (OSError, ValueError):
            return None  # missing from the storage: Attachment.problems says so

    def copy_for(self, occurrence: str, name: str) -> "Campaign":
        """A new draft with this campaign's message, attachment and audience, for ``occurrence``."""
        copy = Campaign(name=name[:200], copied_from=self, occurrence=occurrence,
                        **{field: getattr(self, field) for field in self.COPIED_FIELDS})
        copy.save()
        copy.tags.set(self.tags.all())
        return copy

    def audience(self):
        """The contacts this campaign is for (opted-out ones included: their rows say ``suppressed``)."""
        contacts = Contact.objects.all()
        if self.pk and self.tags.exists():
            contacts = contacts.filter(tags__in=self.tags.all()).distinct()
        return contacts.order_by("pk")

    def counts(self) -> dict[str, int]:
        """Ledger rows per state, every state present (0 when none)."""
        found = dict(self.recipients.values_list("state").annotate(n=models.Count("pk")).order_by())
        return {state: found.get(state, 0) for state in CampaignRecipient.State.values}

    def progress(self, counts: dict[str, int] | None = None) -> dict:
        counts = counts if counts is not None else self.counts()
        total = sum(counts.values())
        waiting = counts["queued"] + counts["sending"]
        return {"total": total, "finished": total - waiting,
                "percent": round(100 * (total - waiting) / total, 1) if total else 0.0}


class CampaignRecipient(models.Model):
    """One contact of a campaign: what it was sent, and how that went."""

    class State(models.TextChoices):
        QUEUED = "queued", _("queued")
        SENDING = "sending", _("sending")  # claimed: its Message waits in the outbox
        SENT = "sent", _("sent")
        DELIVERED = "delivered", _("delivered")
        READ = "read", _("read")
        REPLIED = "replied", _("replied")
        FAILED = "failed", _("failed")
        UNCONFIRMED = "unconfirmed", _("unconfirmed (may have been sent; not resent)")
        SUPPRESSED = "suppressed", _("suppressed")
        NOT_ON_WHATSAPP = "not_on_whatsapp", _("not on WhatsApp")
        CANCELLED = "cancelled", _("cancelled")

    WAITING = (State.QUEUED, State.SENDING)
    GONE = (State.SENT, State.DELIVERED, State.READ, State.REPLIED)

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="recipients",
                                 verbose_name=_("campaign"))
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="campaign_rows",
                                verbose_name=_("contact"))
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.QUEUED)
    reason = models.TextField(_("reason"), blank=True,
                              help_text=_("Why it failed (WAHA's answer) or was not sent."))
    attempt = models.PositiveSmallIntegerField(_("attempt"), default=1)
    chat_id = models.CharField(_("chat id"), max_length=128, blank=True)
    text = models.TextField(_("text sent"), blank=True)
    message = models.OneToOneField(Message, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="campaign_row", verbose_name=_("message"))
    queued_at = models.DateTimeField(_("queued at"), default=timezone.now)
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    replied_at = models.DateTimeField(_("replied at"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["campaign", "pk"]
        verbose_name = _("campaign recipient")
        verbose_name_plural = _("campaign recipients")
        constraints = [models.UniqueConstraint(fields=["campaign", "contact"], name="one_row_per_campaign_contact")]
        indexes = [models.Index(fields=["campaign", "state"], name="campaign_recipient_state")]

    def __str__(self) -> str:
        return f"{self.campaign}: {self.contact} ({self.get_state_display()})"
