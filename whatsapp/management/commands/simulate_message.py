"""``manage.py simulate_message CHANNEL FROM TEXT``: a contact "writes" to a development channel.

The event goes the way a WAHA webhook's does (stored, then processed), so message triggers
fire and the event log records it. Development channels only: they are not WhatsApp.
"""

from django.core.management.base import CommandError, CommandParser
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from chronoflow import commands
from whatsapp.models import Channel
from whatsapp.simulate import NotSimulable, simulate_inbound


class Command(commands.Command):
    help = _("Simulate an inbound WhatsApp message on a development channel (not WhatsApp).")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("channel", help=_("Channel id or session name (a development channel)."))
        parser.add_argument("sender", metavar="from", help=_("The sender's phone number, e.g. +55 11 99999-9999."))
        parser.add_argument("text", help=_("The message's text, e.g. menu."))

    def handle(self, *args, channel: str, sender: str, text: str, **options) -> None:
        found = Channel.objects.filter(Q(session_name=channel) | (Q(pk=int(channel)) if channel.isdigit() else Q())).first()
        if found is None:
            raise CommandError(_("No channel has the id or session name %(name)r.") % {"name": channel})
        try:
            event = simulate_inbound(found, sender, text)
        except NotSimulable as exc:
            raise CommandError(f"{exc.field + ': ' if exc.field else ''}{exc}") from None
        self.stdout.write(self.style.SUCCESS(
            _("Simulated message from %(sender)s on %(session)s (development channel, not WhatsApp): event %(event)s queued.")
            % {"sender": event.payload["payload"]["from"], "session": found.session_name, "event": event.event_id}))
