"""``manage.py import_contacts FILE [--map phone=Telefone,name=Nome] [--dry-run] [--tag X] [--partial]``."""

from django.core.management.base import BaseCommand, CommandError

from contacts.importer import ImportRefused, Importer, ImportReport, parse_mapping


class Command(BaseCommand):
    help = "Import contacts from a CSV file (UTF-8; comma, semicolon or tab separated)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", help="The CSV file; its first row names the columns.")
        parser.add_argument("--map", default="", help="field=Column pairs, e.g. phone=Telefone,name=Nome,custom.cpf=CPF.")
        parser.add_argument("--dry-run", action="store_true", help="Report what would happen; write nothing.")
        parser.add_argument("--tag", action="append", default=[], help="Tag every imported contact (repeatable).")
        parser.add_argument("--partial", action="store_true", help="Import the good rows even if some are bad.")

    def handle(self, *args, **options) -> None:
        try:
            importer = Importer(parse_mapping(options["map"]), tags=options["tag"], dry_run=options["dry_run"],
                                partial=options["partial"], progress=self._progress)
            with open(options["file"], encoding="utf-8-sig", newline="") as lines:
                report = importer.run(lines)
        except OSError as exc:
            raise CommandError(f"file: cannot read {options['file']!r}: {exc.strerror}") from None
        except ImportRefused as refused:
            raise CommandError(f"{refused.field}: {refused.reason}") from None
        self._summary(report)
        if report.error_count and not report.written and not report.dry_run:
            raise CommandError(f"Nothing imported: {report.error_count} bad row(s). Fix them, or use --partial.")

    def _progress(self, report: ImportReport) -> None:
        self.stderr.write(f"... {report.rows} rows read ({report.error_count} errors)")

    def _summary(self, report: ImportReport) -> None:
        for error in report.errors:
            self.stdout.write(f"row {error.row}: {error.field}: {error.reason}")
        if report.error_count > len(report.errors):
            self.stdout.write(f"... and {report.error_count - len(report.errors)} more errors")
        verb = "would be" if report.dry_run or not report.written else "were"
        self.stdout.write(f"{report.rows} rows: {report.created} contacts {verb} created, {report.updated} updated, "
                          f"{report.merged} rows merged into others, {report.error_count} errors.")
