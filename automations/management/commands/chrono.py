"""``manage.py chrono list|show|create|pause|resume|trigger|runs``: chronos from the shell.

Each subcommand calls what the admin and the API call: ``create`` goes through the API's
own serializer (same fields, camelCase bodies included, same errors), ``pause``,
``resume`` and ``trigger`` through the Chrono's methods. Bad input exits non-zero with a
message naming the field or value.
"""

import json
import sys
import time

from django.core.management.base import CommandError, CommandParser
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import serializers

from automations.models import Chrono, ChronoFinished, ChronoRun
from chronoflow import commands
from chronoflow.secrets import MASK  # header values may be credentials ("Authorization: Bearer ...")
from chronoflow.timefmt import local_time, zone_name

def chrono_serializer_class() -> type[serializers.Serializer]:
    """The serializer the REST API creates chronos with, so the shell takes the same fields."""
    from automations.api import ChronoViewSet

    return ChronoViewSet.serializer_class


def writable_fields() -> dict[str, serializers.Field]:
    return {name: field for name, field in chrono_serializer_class()().fields.items() if not field.read_only}


class Command(commands.Command):
    help = gettext_lazy("List, show, create, pause, resume and trigger chronos, and list their runs.")

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="{list,show,create,pause,resume,trigger,runs}")

        listing = sub.add_parser("list", help=_("Every chrono, one per line."))
        listing.add_argument("--active", action="store_true", help=_("Only active chronos."))
        listing.add_argument("--paused", action="store_true", help=_("Only paused chronos."))
        listing.add_argument("--done", action="store_true", help=_("Only finished one-shots."))
        listing.add_argument("--target-type", choices=Chrono.TargetType.values)
        listing.add_argument("--search", help=_("Part of the name."))
        listing.add_argument("--json", action="store_true", dest="as_json", help=_("The API's JSON instead of a table."))

        show = sub.add_parser("show", help=_("One chrono: normalised schedule, description, next fire times."))
        show.add_argument("id", type=int)
        show.add_argument("--json", action="store_true", dest="as_json", help=_("The API's JSON instead of text."))

        create = sub.add_parser("create", help=_("Create a chrono from the API's fields."))
        create.add_argument("--data", help=_("A JSON body as the API takes it (snake_case or the original camelCase); "
                                           "'-' reads it from standard input. Options below override its keys."))
        for name, field in writable_fields().items():
            create.add_argument(f"--{name.replace('_', '-')}", dest=f"field_{name}", metavar=_metavar(field),
                                help=str(field.help_text or "") or None)

        for name, text in (("pause", _("Deactivate: beat stops firing it.")),
                           ("resume", _("Reactivate, from the next fire time on."))):
            sub.add_parser(name, help=text).add_argument("id", type=int)

        trigger = sub.add_parser("trigger", help=_("Run now, outside the schedule."))
        trigger.add_argument("id", type=int)
        trigger.add_argument("--wait", type=float, metavar="SECONDS",
                             help=_("Wait up to SECONDS for the run to finish; exit 1 unless it succeeds."))

        runs = sub.add_parser("runs", help=_("A chrono's runs, newest first."))
        runs.add_argument("id", type=int)
        runs.add_argument("--status", choices=ChronoRun.Status.values)
        runs.add_argument("--limit", type=int, default=20, help=_("How many (default 20)."))
        runs.add_argument("--json", action="store_true", dest="as_json", help=_("The API's JSON instead of a table."))

    def handle(self, *args, action: str, **options) -> None:
        getattr(self, f"do_{action}")(**options)

    # --- Subcommands ----------------------------------------------------------------------------

    def do_list(self, active=False, paused=False, done=False, target_type=None, search=None, as_json=False,
                **_options) -> None:
        chronos = Chrono.objects.all()
        states = [state for state, wanted in (("active", active), ("paused", paused), ("done", done)) if wanted]
        if len(states) > 1:
            raise CommandError(_("Give one of --active, --paused and --done, not several."))
        if states:
            chronos = chronos.in_state(states[0])
        if target_type:
            chronos = chronos.filter(target_type=target_type)
        if search:
            chronos = chronos.filter(name__icontains=search)
        if as_json:
            return self._print_json(chrono_serializer_class()(chronos, many=True).data)
        rows = [(c.pk, c.name, _state(c), c.target_type, c.schedule,
                 c.describe_schedule(), local_time(c.next_run_at, c.timezone), c.last_run_status or "-") for c in chronos]
        self._table([_("ID"), _("NAME"), _("STATE"), _("TARGET"), _("SCHEDULE"), _("IN WORDS"), _("NEXT RUN"), _("LAST")], rows)

    def do_show(self, id: int, as_json=False, **_options) -> None:
        chrono = self._chrono(id)
        if as_json:
            return self._print_json(chrono_serializer_class()(chrono).data)
        for label, value in self._describe(chrono):
            self.stdout.write(f"{label + ':':<16} {value}")

    def do_create(self, data=None, **options) -> None:
        body = self._body(data, options)
        serializer = chrono_serializer_class()(data=body)
        if not serializer.is_valid():
            raise CommandError(_("The chrono was not created:") + "\n" + _errors(serializer.errors))
        chrono = serializer.save()
        self.stdout.write(self.style.SUCCESS(_("Created chrono %(id)d: %(name)s") % {"id": chrono.pk, "name": chrono.name}))
        self.do_show(chrono.pk)

    def do_pause(self, id: int, **_options) -> None:
        chrono = self._chrono(id)
        chrono.pause()
        self.stdout.write(self.style.SUCCESS(_("Paused chrono %(id)d: %(name)s") % {"id": chrono.pk, "name": chrono.name}))

    def do_resume(self, id: int, **_options) -> None:
        chrono = self._chrono(id)
        if chrono.is_active:
            self.stdout.write(_("Chrono %(id)d is already active; next run %(when)s.")
                              % {"id": chrono.pk, "when": local_time(chrono.next_run_at, chrono.timezone)})
            return
        try:
            chrono.resume()
        except ChronoFinished as exc:
            raise CommandError(" ".join(exc.messages)) from None
        self.stdout.write(self.style.SUCCESS(_("Resumed chrono %(id)d: %(name)s; next run %(when)s")
                                             % {"id": chrono.pk, "name": chrono.name, "when": local_time(chrono.next_run_at, chrono.timezone)}))

    def do_trigger(self, id: int, wait=None, **_options) -> None:
        chrono = self._chrono(id)
        with transaction.atomic():
            run = chrono.trigger()
        self.stdout.write(self.style.SUCCESS(_("Triggered chrono %(id)d: run %(run)d is queued.") % {"id": chrono.pk, "run": run.pk}))
        if wait is not None:
            self._wait_for(run, wait)

    def do_runs(self, id: int, status=None, limit=20, as_json=False, **_options) -> None:
        from automations.serializers import ChronoRunSerializer

        if limit < 1:
            raise CommandError(_("--limit must be at least 1, got %(limit)d.") % {"limit": limit})
        runs = self._chrono(id).runs.all()
        if status:
            runs = runs.filter(status=status)
        runs = list(runs[:limit])
        if as_json:
            return self._print_json(ChronoRunSerializer(runs, many=True).data)
        rows = [(r.pk, local_time(r.scheduled_for), r.trigger, r.status, r.attempt,
                 "-" if r.duration_ms is None else f"{r.duration_ms} ms", r.http_status or "-",
                 (r.error_message or "")[:60]) for r in runs]
        header = [_("ID"), _("SCHEDULED FOR (%(zone)s)") % {"zone": zone_name()}, _("TRIGGER"), _("STATUS"), _("TRIES"),
                  _("TOOK"), _("HTTP"), _("ERROR")]
        self._table(header, rows)

    # --- Helpers ----------------------------------------------------------------------------------

    def _chrono(self, pk: int) -> Chrono:
        chrono = Chrono.objects.filter(pk=pk).select_related("channel", "function").first()
        if chrono is None:
            raise CommandError(_("No chrono with id %(id)d.") % {"id": pk})
        return chrono

    def _body(self, data: str | None, options: dict) -> dict:
        body = _parse_json("--data", sys.stdin.read() if data == "-" else data) if data else {}
        if not isinstance(body, dict):
            raise CommandError(_("--data must be a JSON object."))
        fields = writable_fields()
        for name, field in fields.items():
            value = options.get(f"field_{name}")
            if value is not None:
                json_field = isinstance(field, (serializers.JSONField, serializers.DictField, serializers.ListField))
                body[name] = _parse_json(f"--{name.replace('_', '-')}", value) if json_field else value
        return body

    def _describe(self, chrono: Chrono) -> list[tuple[str, object]]:
        zone = chrono.timezone
        # Fire times in the chrono's own zone, as the schedule reads; everything else in the operator's.
        fire_times = [" — ".join(filter(None, (local_time(t, zone), chrono.fire_time_note(t))))
                      for t in chrono.next_fire_times(5)] if chrono.is_active else []
        lines = [
            (_("Chrono"), f"{chrono.pk}: {chrono.name}"),
            (_("State"), _state(chrono)),
            (_("Schedule"), chrono.schedule),
            (_("Normalised"), f"{chrono.schedule_kind} {chrono.schedule_expression}".strip()),
            (_("Time zone"), zone),
            ("In words", chrono.describe_schedule("en")),
            ("Em palavras", chrono.describe_schedule("pt_BR")),
            (_("Next fire times"), "\n".ljust(18).join(fire_times) if fire_times else _("none")),
            (_("Target"), chrono.get_target_type_display()),
            *self._target_lines(chrono),
            (_("Last run"), f"{local_time(chrono.last_run_at)} {chrono.last_run_status}".strip()),
        ]
        if chrono.last_error:
            lines.append((_("Last error"), chrono.last_error))
        return lines

    def _target_lines(self, chrono: Chrono) -> list[tuple[str, object]]:
        if chrono.target_type == Chrono.TargetType.HTTP:
            headers = ", ".join(f"{name}: {MASK}" for name in (chrono.headers or {})) or _("none")
            return [(_("Request"), f"{chrono.method} {chrono.url}"), (_("Headers"), headers),
                    (_("Payload"), json.dumps(chrono.payload))]
        if chrono.target_type == Chrono.TargetType.MESSAGE:
            return [(_("Channel"), chrono.channel or "-"), (_("Recipients"), ", ".join(map(str, chrono.recipients or []))),
                    (_("Template"), chrono.message_template)]
        return [(_("Function"), chrono.function or "-")]

    def _wait_for(self, run: ChronoRun, seconds: float) -> None:
        deadline, last = time.monotonic() + seconds, None
        while time.monotonic() < deadline:
            run.refresh_from_db()
            if run.status != last:
                self.stdout.write("  " + _("run %(run)d: %(status)s") % {"run": run.pk, "status": run.status})
                last = run.status
            if run.is_final:
                break
            time.sleep(0.5)
        if run.status != ChronoRun.Status.SUCCESS:
            detail = f": {run.error_message}" if run.error_message else ""
            if run.is_final:
                raise CommandError(_("Run %(run)d ended %(status)s") % {"run": run.pk, "status": run.status} + detail)
            raise CommandError(_("Run %(run)d is still %(status)s after %(seconds)ss (is a worker running?).")
                               % {"run": run.pk, "status": run.status, "seconds": f"{seconds:g}"})

    def _table(self, header: list[str], rows: list[tuple]) -> None:
        if not rows:
            self.stdout.write(_("Nothing to show."))
            return
        cells = [[str(c) for c in row] for row in [header, *rows]]
        widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
        for row in cells:
            self.stdout.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())

    def _print_json(self, data) -> None:
        self.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def _metavar(field: serializers.Field) -> str:
    if isinstance(field, (serializers.JSONField, serializers.DictField, serializers.ListField)):
        return "JSON"
    if isinstance(field, serializers.RelatedField):
        return "ID"
    if isinstance(field, serializers.ChoiceField):
        return "{" + ",".join(str(c) for c in field.choices) + "}"
    names = {serializers.BooleanField: "true|false", serializers.IntegerField: "N", serializers.URLField: "URL"}
    return next((label for kind, label in names.items() if isinstance(field, kind)), "TEXT")


def _parse_json(option: str, text: str):
    try:
        return json.loads(text)
    except ValueError as exc:
        raise CommandError(_("%(option)s is not valid JSON: %(error)s") % {"option": option, "error": exc}) from None


def _errors(errors: dict) -> str:
    lines = []
    for field, messages in errors.items():
        messages = messages if isinstance(messages, list) else [messages]
        lines += [f"  {field}: {m}" for m in messages]
    return "\n".join(lines)


def _state(chrono: Chrono) -> str:
    """active, paused or done, in the operator's language."""
    return str(Chrono.State(chrono.state).label)
