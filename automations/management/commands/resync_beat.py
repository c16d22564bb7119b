"""``manage.py resync_beat``: rebuild beat's PeriodicTasks from the chronos and report what it fixed.

Through ``automations.beat.sync``, the code every save uses: each active chrono gets its
exact task, paused ones and tasks of deleted chronos lose theirs. ``--dry-run`` reports
the same differences and writes nothing.
"""

from django.core.management.base import CommandError, CommandParser
from django.db import transaction
from django_celery_beat.models import PeriodicTask, PeriodicTasks
from django.utils.translation import gettext_lazy as _

from automations.beat import sync as beat_sync
from automations.models import Chrono
from chronoflow import commands

# What beat reads from a chrono's task: if any of these differ, it fires differently.
COMPARED = ("task", "kwargs", "enabled", "crontab_id", "interval_id", "clocked_id", "one_off")


def snapshot() -> dict[str, tuple]:
    """Every chrono task as beat sees it, by name."""
    tasks = PeriodicTask.objects.filter(name__startswith=beat_sync.PREFIX).values("name", *COMPARED)
    return {task["name"]: tuple(task[field] for field in COMPARED) for task in tasks}


class Command(commands.Command):
    help = _("Rebuild celery beat's PeriodicTasks from the chronos; report the tasks created, fixed and removed.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help=_("Report the differences; change nothing."))
        parser.add_argument("--chunk", type=int, default=500, help=_("Chronos per progress line (default 500)."))

    def handle(self, *args, dry_run: bool = False, chunk: int = 500, **options) -> None:
        if chunk < 1:
            raise CommandError(_("--chunk must be at least 1, got %(chunk)d.") % {"chunk": chunk})
        before = snapshot()
        with transaction.atomic():
            failed = self._sync_all(chunk)
            removed = self._remove_orphans()
            after = snapshot()
            if dry_run:
                transaction.set_rollback(True)
            elif before != after:
                PeriodicTasks.update_changed()  # beat reloads its schedule
        self._report(before, after, removed, dry_run)
        if failed:
            raise CommandError(_("%(count)d chrono(s) could not be synced: ") % {"count": len(failed)} + "; ".join(failed))

    def _sync_all(self, chunk: int) -> list[str]:
        total = Chrono.objects.count()
        self.stdout.write(_("Checking %(count)d chrono(s)...") % {"count": total})
        failed = []
        for done, chrono in enumerate(Chrono.objects.order_by("pk").iterator(chunk_size=chunk), start=1):
            try:
                with transaction.atomic():
                    beat_sync.sync(chrono)
            except Exception as exc:  # one broken row must not stop the rebuild of the others
                failed.append(f"chrono {chrono.pk} ({chrono.name}): {type(exc).__name__}: {exc}")
            if done % chunk == 0 or done == total:
                self.stdout.write(f"  {done}/{total} chronos checked")
        return failed

    def _remove_orphans(self) -> list[str]:
        orphans = beat_sync.orphans(Chrono._base_manager.filter(is_active=True).values_list("pk", flat=True))
        PeriodicTask.objects.filter(name__in=orphans).delete()
        return orphans

    def _report(self, before: dict, after: dict, removed: list[str], dry_run: bool) -> None:
        created = sorted(set(after) - set(before))
        fixed = sorted(name for name in set(before) & set(after) if before[name] != after[name])
        labels = ("Would create", "Would fix", "Would remove") if dry_run else ("Created", "Fixed", "Removed")
        for label, names in zip(labels, (created, fixed, removed)):
            if names:
                self.stdout.write(f"{label} {len(names)}: {', '.join(names)}")
        if not (created or fixed or removed):
            self.stdout.write(self.style.SUCCESS(_("Beat was in step with the chronos: nothing to change.")))
        else:
            summary = f"{len(created)} created, {len(fixed)} fixed, {len(removed)} removed"
            self.stdout.write(self.style.SUCCESS(f"{'Dry run: ' if dry_run else ''}{summary}."))
