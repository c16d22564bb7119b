"""Run retention: finished runs older than RUN_RETENTION_DAYS, or beyond the newest
RUN_RETENTION_PER_CHRONO of their chrono, are deleted.

Deletion goes in batches of RUN_PRUNE_BATCH ids, each its own short transaction, so the
runs table is never locked for long and workers recording runs only ever wait for one
batch. Pending and running runs are never pruned, whatever their age. A setting of 0
turns that rule off.
"""

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from automations.models import ChronoRun

Progress = Callable[[str, int], None]


def prune(now: datetime | None = None, *, dry_run: bool = False, batch_size: int | None = None,
          progress: Progress | None = None) -> int:
    """Delete (or, with ``dry_run``, count) the runs past retention; returns how many.

    ``progress(rule, count)`` is called after each batch with the running total of that rule.
    """
    batch_size = batch_size or settings.RUN_PRUNE_BATCH
    total = 0
    for rule, doomed in doomed_sets(now or timezone.now()):
        if dry_run:
            count = doomed.count()
            if progress:
                progress(rule, count)
        else:
            count = _delete_in_batches(rule, doomed, batch_size, progress)
        total += count
    return total


def doomed_sets(now: datetime) -> Iterator[tuple[str, QuerySet]]:
    """(rule, queryset) for each rule in force: by age, then per chrono."""
    finished = ChronoRun.objects.filter(status__in=ChronoRun.FINAL)
    if settings.RUN_RETENTION_DAYS:
        cutoff = now - timedelta(days=settings.RUN_RETENTION_DAYS)
        yield f"older than {settings.RUN_RETENTION_DAYS} days", finished.filter(created_at__lt=cutoff)
    keep = settings.RUN_RETENTION_PER_CHRONO
    if keep:
        crowded = (ChronoRun.objects.values("chrono_id").annotate(n=Count("pk")).filter(n__gt=keep)
                   .values_list("chrono_id", flat=True))
        for chrono_id in list(crowded):
            older = _older_than_newest(chrono_id, keep)
            if older is not None:
                yield f"beyond the newest {keep} of chrono {chrono_id}", finished.filter(older)


def _older_than_newest(chrono_id: int, keep: int) -> Q | None:
    """Runs of the chrono after its `keep` newest, in the order the run list shows them."""
    newest = ChronoRun.objects.filter(chrono_id=chrono_id).order_by("-scheduled_for", "-pk")
    boundary = newest.values_list("scheduled_for", "pk")[keep - 1:keep].first()
    if boundary is None:
        return None
    when, pk = boundary
    return Q(chrono_id=chrono_id) & (Q(scheduled_for__lt=when) | Q(scheduled_for=when, pk__lt=pk))


def _delete_in_batches(rule: str, doomed: QuerySet, batch_size: int, progress: Progress | None) -> int:
    deleted = 0
    while True:
        # Oldest ids first: for the age rule that is the start of the primary key index.
        ids = list(doomed.order_by("pk").values_list("pk", flat=True)[:batch_size])
        if not ids:
            return deleted
        ChronoRun.objects.filter(pk__in=ids).delete()  # one short transaction per batch
        deleted += len(ids)
        if progress:
            progress(rule, deleted)
