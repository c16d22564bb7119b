"""``manage.py waha sessions|start|stop|restart|logout|status|qr``: WhatsApp sessions from the shell.

Each action is the Channel's own method (the admin's and the API's), so the status it
records and the history it keeps are the same. ``qr`` prints the QR as text blocks, for
logging in a headless server's session from an SSH terminal. A channel is named by its
id or its WAHA session name.
"""

import io

import segno
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q

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


class Command(BaseCommand):
    help = "WhatsApp (WAHA) sessions: list them, start/stop/restart/logout one, show its status, print its QR."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True,
                                    metavar="{sessions,start,stop,restart,logout,status,qr}")
        sub.add_parser("sessions", help="Every channel with the status WAHA reports, and sessions no channel claims.")
        for name, text in ACTIONS.items():
            sub.add_parser(name, help=text).add_argument("channel", help="Channel id or WAHA session name.")
        sub.add_parser("status", help="Ask WAHA for the session's status and account; store and print them.") \
            .add_argument("channel", help="Channel id or WAHA session name.")
        qr = sub.add_parser("qr", help="Print the QR to scan in the terminal, as text blocks.")
        qr.add_argument("channel", help="Channel id or WAHA session name.")

    def handle(self, *args, action: str, **options) -> None:
        try:
            if action == "sessions":
                return self.sessions()
            channel = self.channel(options["channel"])
            if action in ACTIONS:
                return self.act(channel, action)
            return self.status(channel) if action == "status" else self.qr(channel)
        except WahaError as exc:
            raise CommandError(f"WAHA refused or could not be reached: {exc}") from None

    def channel(self, ident: str) -> Channel:
        lookup = Q(session_name=ident) | (Q(pk=int(ident)) if ident.isdigit() else Q())
        channel = Channel.objects.filter(lookup).first()
        if channel is None:
            raise CommandError(f"No channel has the id or session name {ident!r}.")
        return channel

    def sessions(self) -> None:
        live = {s.get("name"): s for s in waha_client().list_sessions(all=True)}
        rows = []
        for channel in Channel.objects.order_by("name"):
            waha = live.pop(channel.session_name, None)
            rows.append((channel.pk, channel.session_name, channel.name, channel.status,
                         waha.get("status", "-") if waha else "missing in WAHA",
                         "yes" if channel.should_run else "no", channel.connected_as or "-"))
        rows += [("-", name, "(no channel)", "-", session.get("status", "-"), "-", "-") for name, session in live.items()]
        self.table(["ID", "SESSION", "NAME", "STATUS", "WAHA SAYS", "SHOULD RUN", "ACCOUNT"], rows)

    def act(self, channel: Channel, action: str) -> None:
        getattr(channel, action)(source=SOURCE)
        self.stdout.write(self.style.SUCCESS(f"{action.capitalize()}: {channel.session_name} is now {channel.status}."))

    def status(self, channel: Channel) -> None:
        changed = channel.refresh_status(source=SOURCE)
        channel.refresh_from_db()
        lines = [("Channel", f"{channel.pk}: {channel.name}"), ("Session", channel.session_name),
                 ("Status", channel.status + (" (changed now)" if changed else "")),
                 ("Since", channel.status_changed_at.isoformat() if channel.status_changed_at else "-"),
                 ("Account", channel.connected_as or "not logged in"),
                 ("Should run", "yes" if channel.should_run else "no")]
        if channel.last_error:
            lines.append(("Last error", channel.last_error))
        for label, value in lines:
            self.stdout.write(f"{label + ':':<12} {value}")

    def qr(self, channel: Channel) -> None:
        if channel.status != Channel.Status.SCAN_QR_CODE:
            raise CommandError(f"{channel.session_name} is {channel.status}, not waiting for a QR scan "
                               f"(run `manage.py waha status {channel.session_name}` to refresh it, "
                               f"or `waha logout` to link another phone).")
        value = waha_client().get_qr_value(channel.session_name)
        if not value:
            raise CommandError("WAHA gave no QR value; try again in a few seconds.")
        self.stdout.write(f"Scan with WhatsApp > Linked devices > Link a device ({channel.session_name}):\n")
        blocks = io.StringIO()  # one write: Django's stdout wrapper would end each of segno's writes with a newline
        segno.make(value, error="l").terminal(out=blocks, compact=True, border=2)
        self.stdout.write(blocks.getvalue(), ending="")

    def table(self, header: list[str], rows: list[tuple]) -> None:
        if not rows:
            self.stdout.write("No channels, and WAHA has no sessions.")
            return
        cells = [[str(c) for c in row] for row in [header, *rows]]
        widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
        for row in cells:
            self.stdout.write("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
