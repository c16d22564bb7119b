"""``manage.py contact_data export|erase PHONE``: a contact's data for an LGPD request."""

import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from contacts import lgpd, phones
from contacts.models import Contact


class Command(BaseCommand):
    help = "Export (JSON on stdout) or erase everything held about one contact."

    def add_arguments(self, parser) -> None:
        parser.add_argument("action", choices=["export", "erase"])
        parser.add_argument("who", help="The phone as written (+55 11 98888-7777), or a chat id (…@c.us, …@lid).")
        parser.add_argument("--yes", action="store_true", help="Erase without asking.")

    def handle(self, *args, action: str, who: str, yes: bool, **options) -> None:
        contact = find(who)
        if action == "export":
            self.stdout.write(json.dumps(lgpd.export(contact), ensure_ascii=False, indent=2, default=str))
            return
        if not yes and input(f"Erase everything about {contact}? Type 'yes': ").strip().lower() != "yes":
            raise CommandError("Not erased.")
        counts = lgpd.erase(contact)
        self.stdout.write(f"Erased {contact}: {counts['messages']} messages, {counts['consent_changes']} consent changes.")


def find(who: str) -> Contact:
    if "@" in who:
        contact = Contact.objects.for_chat(who)
    else:
        try:
            contact = Contact.objects.filter(phone=phones.canonical(who, settings.CONTACTS_DEFAULT_COUNTRY_CODE)).first()
        except phones.InvalidPhone as exc:
            raise CommandError(f"who: {exc}") from None
    if contact is None:
        raise CommandError(f"who: no contact is {who!r}.")
    return contact
