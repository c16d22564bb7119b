"""``manage.py contact_data export|erase PHONE``: a contact's data for an LGPD request."""

import json

from django.conf import settings
from django.core.management.base import CommandError
from django.utils.translation import gettext_lazy as _

from chronoflow import commands
from contacts import lgpd, phones
from contacts.models import Contact


class Command(commands.Command):
    help = _("Export (JSON on stdout) or erase everything held about one contact.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("action", choices=["export", "erase"])
        parser.add_argument("who", help=_("The phone as written (+55 11 98888-7777), or a chat id (…@c.us, …@lid)."))
        parser.add_argument("--yes", action="store_true", help=_("Erase without asking."))

    def handle(self, *args, action: str, who: str, yes: bool, **options) -> None:
        contact = find(who)
        if action == "export":
            self.stdout.write(json.dumps(lgpd.export(contact), ensure_ascii=False, indent=2, default=str))
            return
        if not yes and input(_("Erase everything about %(contact)s? Type 'yes': ") % {"contact": contact}).strip().lower() != "yes":
            raise CommandError(_("Not erased."))
        counts = lgpd.erase(contact)
        self.stdout.write(_("Erased %(contact)s: %(messages)d messages, %(changes)d consent changes.")
                          % {"contact": contact, "messages": counts["messages"], "changes": counts["consent_changes"]})


def find(who: str) -> Contact:
    if "@" in who:
        contact = Contact.objects.for_chat(who)
    else:
        try:
            contact = Contact.objects.filter(phone=phones.canonical(who, settings.CONTACTS_DEFAULT_COUNTRY_CODE)).first()
        except phones.InvalidPhone as exc:
            raise CommandError(f"who: {exc}") from None
    if contact is None:
        raise CommandError(_("who: no contact is %(who)r.") % {"who": who})
    return contact
