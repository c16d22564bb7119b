"""python manage.py prune_runs [--dry-run] [--batch-size N]: apply run retention now."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext_lazy as _

from automations.events import log as event_log
from automations.runs import retention


class Command(BaseCommand):
    help = (
        "Delete finished runs older than RUN_RETENTION_DAYS and beyond the newest RUN_RETENTION_PER_CHRONO "
        "of each chrono, in batches. The periodic task does the same every RUN_PRUNE_INTERVAL_S."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--dry-run", action="store_true", help=_("Count what would be deleted; delete nothing."))
        parser.add_argument("--batch-size", type=int, default=None,
                            help=_("Runs deleted per transaction (default RUN_PRUNE_BATCH, %(n)d).") % {"n": settings.RUN_PRUNE_BATCH})

    def handle(self, *args, dry_run: bool = False, batch_size: int | None = None, **options) -> None:
        if batch_size is not None and batch_size < 1:
            raise CommandError(_("--batch-size must be at least 1."))
        verb = "would delete" if dry_run else "deleted"

        def progress(rule: str, count: int) -> None:
            self.stdout.write(f"  runs {rule}: {verb} {count}")

        self.stdout.write(f"Retention: {settings.RUN_RETENTION_DAYS or 'no'} day limit, "
                          f"{settings.RUN_RETENTION_PER_CHRONO or 'no'} per-chrono limit.")
        total = retention.prune(dry_run=dry_run, batch_size=batch_size, progress=progress)
        self.stdout.write(self.style.SUCCESS(f"{'Dry run: would delete' if dry_run else 'Deleted'} {total} run(s)."))
        logged = event_log.prune(dry_run=dry_run)  # the event log follows RUN_RETENTION_DAYS (automations/events/log.py)
        self.stdout.write(f"Event log: {'would prune' if dry_run else 'pruned'} {logged} event(s) past the run retention.")
