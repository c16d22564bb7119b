"""``manage.py import_contacts FILE [--map phone=Telefone,name=Nome] [--dry-run] [--tag X] [--partial]``."""

from django.core.management.base import CommandError
from django.utils.translation import gettext_lazy as _

from chronoflow import commands
from contacts.importer import ImportRefused, Importer, ImportReport, parse_mapping


class Command(commands.Command):
    help = _("Import contacts from a CSV file (UTF-8; comma, semicolon or tab separated).")

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", help=_("The CSV file; its first row names the columns."))
        parser.add_argument("--map", default="", help=_("field=Column pairs, e.g. phone=Telefone,name=Nome,custom.cpf=CPF."))
        parser.add_argument("--dry-run", action="store_true", help=_("Report what would happen; write nothing."))
        parser.add_argument("--tag", action="append", default=[], help=_("Tag every imported contact (repeatable)."))
        parser.add_argument("--partial", action="store_true", help=_("Import the good rows even if some are bad."))

    def handle(self, *args, **options) -> None:
        try:
            importer = Importer(parse_mapping(options["map"]), tags=options["tag"], dry_run=options["dry_run"],
                                partial=options["partial"], progress=self._progress)
            with open(options["file"], encoding="utf-8-sig", newline="") as lines:
                report = importer.run(lines)
        except OSError as exc:
            raise CommandError(_("file: cannot read %(file)r: %(error)s") % {"file": options["file"], "error": exc.strerror}) from None
        except ImportRefused as refused:
            raise CommandError(f"{refused.field}: {refused.reason}") from None
        self._summary(report)
        if report.error_count and not report.written and not report.dry_run:
            raise CommandError(_("Nothing imported: %(count)d bad row(s). Fix them, or use --partial.") % {"count": report.error_count})

    def _progress(self, report: ImportReport) -> None:
        self.stderr.write(_("... %(rows)d rows read (%(errors)d errors)") % {"rows": report.rows, "errors": report.error_count})

    def _summary(self, report: ImportReport) -> None:
        for error in report.errors:
            self.stdout.write(_("row %(row)s: %(field)s: %(reason)s") % {"row": error.row, "field": error.field, "reason": error.reason})
        if report.error_count > len(report.errors):
            self.stdout.write(_("... and %(count)d more errors") % {"count": report.error_count - len(report.errors)})
        verb = "would be" if report.dry_run or not report.written else "were"
        self.stdout.write(f"{report.rows} rows: {report.created} contacts {verb} created, {report.updated} updated, "
                          f"{report.merged} rows merged into others, {report.error_count} errors.")
