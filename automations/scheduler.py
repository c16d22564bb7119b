"""ChronoFlow's celery beat scheduler, over django-celery-beat's tables.

Run with ``celery -A chronoflow beat -S automations.scheduler:ChronoScheduler``.
"""

from celery.beat import BeatLazyFunc
from django.utils import timezone
from django_celery_beat.schedulers import DatabaseScheduler

from automations.beat_sync import TASK


def _now_iso() -> str:
    return timezone.now().isoformat()


class ChronoScheduler(DatabaseScheduler):
    def apply_async(self, entry, producer=None, advance=True, **kwargs):
        if entry.task == TASK:
            # Stamp the send time, evaluated at the moment of sending, so the worker can
            # name the occurrence even when the message waits in the queue.
            entry.kwargs = {**entry.kwargs, "sent_at": BeatLazyFunc(_now_iso)}
        return super().apply_async(entry, producer, advance, **kwargs)
