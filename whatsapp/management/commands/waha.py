"""``manage.py waha sessions|start|stop|restart|logout|status|qr``: WhatsApp sessions from the shell.

Each action is the Channel's own method (the admin's and the API's), so the status it
records and the history it keeps are the same. ``qr`` prints the QR as text blocks, for
logging in a headless server's session from an SSH terminal. A channel is named by its
id or its WAHA session name.
"""

import io

import segno

from django.core.management.base import CommandError, CommandParser
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from chronoflow import commands
from chronoflow.timefmt import local_time
from whatsapp.models import Channel, ChannelStatusChange, waha_client
from whatsapp.waha import WahaError

ACTIONS = {
    "start": "Start the session (and keep it running: the monitor restarts it).",
    "stop": "Stop the session (the monitor leaves it stopped).",
    "restart": "Restart the session.",
    "logout": "Unlink the WhatsApp account; the session then waits for a new QR scan.",
}
# The shell is an operator's hand, like the admin: recorded as such in the status history.
SOURCE = ChannelStatusChange.Source.ADMIN


class Command(commands.Command):
    help = _("WhatsApp (WAHA) sessions: list them, start/stop/restart/logout one, show its status, print its QR.")

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True,
                                    metavar="{sessions,start,stop,restart,logout,status,qr}")
        sub.add_parser("sessions", help=_("Every channel with the status WAHA reports, and sessions no channel claims."))
        for name, text in ACTIONS.items():
            sub.add_parser(name, help=text).add_argument("channel", help=_("Channel id or WAHA session name."))
        sub.add_parser("status", help=_("Ask WAHA for the session's status and account; store and print them.")) \
            .add_argument("channel", help=_("Channel id or WAHA session name."))
        qr = sub.add_parser("qr", help=_("Print the QR to scan in the terminal, as text blocks."))
        qr.add_argument("channel", help=_("Channel id or WAHA session name."))

    def handle(self, *args, action: str, **options) -> None:
        try:
            if action == "sessions":
                return self.sessions()
            channel = self.channel(options["channel"])
            if action in ACTIONS:
                return self.act(channel, action)
            return self.status(channel) if action == "status" else self.qr(channel)
        except WahaError as exc:
            raise CommandError(_("WAHA refused or could not be reached: %(error)s") % {"error": exc}) from None

    def channel(self, ident: str) -> Channel:
        lookup = Q(session_name=ident) | (Q(pk=int(ident)) if ident.isdigit() else Q())
        channel = Channel.objects.filter(lookup).first()
        if channel is None:
            raise CommandError(_("No channel has the id or session name %(name)r.") % {"name": ident})
        return channel

    def sessions(self) -> None:
        live = {s.get("name"): s for s in waha_client().list_sessions(all=True)}
        rows = []
        for channel in Channel.objects.order_by("name"):
            waha = live.pop(channel.session_name, None)
            rows.append((channel.pk, channel.session_name, channel.name, channel.status,
                         waha.get("status", "-") if waha else _("missing in WAHA"),
                         _yes_no(channel.should_run), channel.connected_as or "-"))
        rows += [("-", name, _("(no channel)"), "-", session.get("status", "-"), "-", "-") for name, session in live.items()]
        self.table([_("ID"), _("SESSION"), _("NAME"), _("STATUS"), _("WAHA SAYS"), _("SHOULD RUN"), _("ACCOUNT")], rows)

    def act(self, channel: Channel, action: str) -> None:
        getattr(channel, action)(source=SOURCE)
        self.stdout.write(self.style.SUCCESS(_("%(action)s: %(session)s is now %(status)s.")
                                             % {"action": action.capitalize(), "session": channel.session_name,
                                                "status": channel.status}))

    def status(self, channel: Channel) -> None:
        changed = channel.refresh_status(source=SOURCE)
        channel.refresh_from_db()
        lines = [(_("Channel"), f"{channel.pk}: {channel.name}"), (_("Session"), channel.session_name),
                 (_("Status"), channel.status + (" " + _("(changed now)") if changed else "")),
                 (_("Since"), local_time(channel.status_changed_at)),
                 (_("Account"), channel.connected_as or _("not logged in")),
                 (_("Should run"), _yes_no(channel.should_run))]
        if channel.last_error:
            lines.append((_("Last error"), channel.last_error))
        for label, value in lines:
            self.stdout.write(f"{label + ':':<12} {value}")

    def qr(self, channel: Channel) -> None:
        if channel.status != Channel.Status.SCAN_QR_CODE:
            raise CommandError(_("%(session)s is %(status)s, not waiting for a QR scan (run `manage.py waha status "
                                 "%(session)s` to refresh it, or `waha logout` to link another phone).")
                               % {"session": channel.session_name, "status": channel.status})
        value = waha_client().get_qr_value(channel.session_name)
        if not value:
            raise CommandError(_("WAHA gave no QR value; try again in a few seconds."))
        self.stdout.write(_("Scan with WhatsApp > Linked devices > Link a device (%(session)s):") % {"session": channel.session_name} + "\n")
        blocks = io.StringIO()  # one write: Django's stdout wrapper would end each of segno's writes with a newline
        segno.make(value, error="l").terminal(out=blocks, compact=True, border=2)
        self.stdout.write(blocks.getvalue(), ending="")

    def table(self, header: list[str], rows: list[tuple]) -> None:
        if not rows:
            self.stdout.write(_("No channels, and WAHA has no sessions."))
            return
        cells = [[str(c) for c in row] for row in [header, *rows]]
        widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
        for row in cells:
            self.stdout.write("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())


def _yes_no(value: bool) -> str:
    return str(_("yes") if value else _("no"))
