"""Contacts (people a channel talks to), their tags, and the audit of their consent.

A contact is keyed by its canonical phone (contacts/phones.py) and, when WhatsApp hides the
number, by its ``@lid``; a contact seen first by one and later by the other is merged into one
(``Contact.merge_into``). Opting out or in goes through ``set_consent``, which keeps a
``ConsentChange`` row per change.
"""

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from contacts import phones
from whatsapp.models import Message


def validate_timezone(value: str) -> None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(_("%(value)r is not an IANA time zone such as America/Sao_Paulo."),
                              params={"value": value}) from None


def validate_phone(value: str) -> None:
    if phones.canonical(value) != value:
        raise ValidationError(_("Store the number as E.164 digits without '+', e.g. 5511988887777."))


class Tag(models.Model):
    name = models.CharField(_("name"), max_length=64, unique=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("tag")
        verbose_name_plural = _("tags")

    def __str__(self) -> str:
        return self.name


class ContactQuerySet(models.QuerySet):
    def for_chat(self, chat_id: str) -> "Contact | None":
        """The contact a 1:1 chat id (``…@c.us`` with or without the 9th digit, or ``…@lid``) names."""
        phone, lid = phones.from_chat_id(chat_id)
        if lid:
            return self.filter(lid=lid).first()
        if phone:
            return self.filter(phone=phone).first() or self.filter(chat_id=chat_id).first()
        return None


class Contact(models.Model):
    phone = models.CharField(
        _("phone"), max_length=16, unique=True, null=True, blank=True, validators=[validate_phone],
        help_text=_("E.164 digits without '+'; a Brazilian mobile always with its 9th digit. Empty when only the @lid is known."),
    )
    chat_id = models.CharField(
        _("WhatsApp chat id"), max_length=128, blank=True,
        help_text=_("The chat id to send to (what WAHA's check-exists or the contact's own messages gave)."),
    )
    lid = models.CharField(_("WhatsApp lid"), max_length=64, unique=True, null=True, blank=True,
                           help_text=_("The hidden '…@lid' id, when WhatsApp showed it."))
    name = models.CharField(_("name"), max_length=200, blank=True)
    custom_fields = models.JSONField(_("custom fields"), default=dict, blank=True,
                                     help_text=_("Anything else about the contact, e.g. {\"cpf\": \"…\"}."))
    tags = models.ManyToManyField(Tag, blank=True, related_name="contacts", verbose_name=_("tags"))
    birth_date = models.DateField(_("birth date"), null=True, blank=True,
                                  help_text=_("For the birthday greeting (the year may be any)."))
    timezone = models.CharField(_("time zone"), max_length=64, blank=True, validators=[validate_timezone],
                                help_text=_("Empty: the deployment's DEFAULT_TIMEZONE."))
    first_contact_at = models.DateTimeField(_("first contact"), null=True, blank=True)
    last_message_at = models.DateTimeField(_("last message"), null=True, blank=True)
    opted_out = models.BooleanField(_("opted out"), default=False, db_index=True,
                                    help_text=_("Said stop: nothing is sent to this contact."))
    opted_out_at = models.DateTimeField(_("opted out at"), null=True, blank=True)
    opted_out_reason = models.CharField(_("opt-out reason"), max_length=200, blank=True)
    on_whatsapp = models.BooleanField(_("on WhatsApp"), null=True, blank=True,
                                      help_text=_("What WAHA's check-exists said; empty until checked."))
    checked_at = models.DateTimeField(_("checked at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = ContactQuerySet.as_manager()

    class Meta:
        ordering = ["name", "phone"]
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        constraints = [models.CheckConstraint(
            condition=models.Q(phone__isnull=False) | models.Q(lid__isnull=False), name="contact_has_phone_or_lid")]

    def __str__(self) -> str:
        ident = f"+{self.phone}" if self.phone else self.lid
        return f"{self.name} ({ident})" if self.name else str(ident)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone or settings.DEFAULT_TIMEZONE)

    @property
    def send_to(self) -> str:
        """The chat id to message: the known one, else the phone's, else the lid."""
        return self.chat_id or (f"{self.phone}@c.us" if self.phone else self.lid or "")

    def suppression_reason(self) -> str | None:
        if self.opted_out:
            when = timezone.localtime(self.opted_out_at, self.tz).date().isoformat() if self.opted_out_at else "?"
            return f"opted out on {when} {self.opted_out_reason}".strip()
        if self.on_whatsapp is False:
            return f"not on WhatsApp (checked {self.checked_at:%Y-%m-%d})" if self.checked_at else "not on WhatsApp"
        return None

    def set_consent(self, opted_out: bool, how: str, detail: str = "", message: Message | None = None,
                    actor: str = "") -> "ConsentChange | None":
        """Opt out (or back in) and keep the audit row; None when the state was already so."""
        with transaction.atomic():
            current = Contact.objects.select_for_update().get(pk=self.pk)
            if current.opted_out == opted_out:
                return None
            now = timezone.now()
            self.opted_out, self.opted_out_at = opted_out, now if opted_out else None
            self.opted_out_reason = consent_reason(how, detail, actor) if opted_out else ""
            self.save(update_fields=["opted_out", "opted_out_at", "opted_out_reason", "updated_at"])
            return ConsentChange.objects.create(contact=self, opted_out=opted_out, at=now, how=how, detail=detail[:200],
                                                message=message, actor=actor[:150])

    def merge_into(self, other: "Contact") -> "Contact":
        """Fold this contact into ``other`` (the same person seen by phone and by lid), then delete it."""
        with transaction.atomic():
            for field in ("phone", "lid", "chat_id", "name", "timezone"):
                if not getattr(other, field) and getattr(self, field):
                    setattr(other, field, getattr(self, field))
            other.custom_fields = {**self.custom_fields, **other.custom_fields}
            other.first_contact_at = _earliest(self.first_contact_at, other.first_contact_at)
            other.last_message_at = _latest(self.last_message_at, other.last_message_at)
            if self.opted_out and not other.opted_out:  # a stop said under either id holds
                other.opted_out, other.opted_out_at, other.opted_out_reason = True, self.opted_out_at, self.opted_out_reason
            tags = list(self.tags.all())
            ConsentChange.objects.filter(contact=self).update(contact=other)
            self.delete()  # first: frees the unique phone / lid for ``other``
            other.save()
            other.tags.add(*tags)
        return other


def consent_reason(how: str, detail: str, actor: str) -> str:
    if how == ConsentChange.How.STOP_WORD:
        return f"via {detail!r}"[:200]
    return f"by {ConsentChange.How(how).label}{f' ({actor})' if actor else ''}{f': {detail}' if detail else ''}"[:200]


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    return min(x for x in (a, b) if x) if a or b else None


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    return max(x for x in (a, b) if x) if a or b else None


class ConsentChange(models.Model):
    """One opt-out or opt-in of a contact: when, how, by whom, and which message said so."""

    class How(models.TextChoices):
        STOP_WORD = "stop_word", _("inbound stop word")
        START_WORD = "start_word", _("inbound start word")
        ADMIN = "admin", _("admin")
        API = "api", _("API")
        IMPORT = "import", _("import")

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="consent_changes",
                                verbose_name=_("contact"))
    opted_out = models.BooleanField(_("opted out"), help_text=_("True: opted out; false: opted back in."))
    at = models.DateTimeField(_("when"), default=timezone.now)
    how = models.CharField(_("how"), max_length=16, choices=How.choices)
    detail = models.CharField(_("detail"), max_length=200, blank=True, help_text=_("E.g. the word the contact sent."))
    actor = models.CharField(_("by"), max_length=150, blank=True, help_text=_("The user, for admin and API changes."))
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                verbose_name=_("message"), help_text=_("The inbound message that asked for it."))
    confirmation_id = models.CharField(_("confirmation message id"), max_length=255, blank=True)
    confirmation_error = models.TextField(_("confirmation error"), blank=True)

    class Meta:
        ordering = ["-at", "-pk"]
        verbose_name = _("consent change")
        verbose_name_plural = _("consent changes")
        # A message WAHA delivers twice changes consent, and is confirmed, once.
        constraints = [models.UniqueConstraint(fields=["message"], condition=models.Q(message__isnull=False),
                                               name="one_consent_change_per_message")]

    def __str__(self) -> str:
        return f"{self.contact}: {'opted out' if self.opted_out else 'opted in'} ({self.get_how_display()})"
