from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from automations.beat import sync as beat_sync
from automations.models import Chrono, ChronoRun
from automations.runs import tallies


@receiver(post_delete, sender=Chrono, dispatch_uid="chrono_unsync")
def chrono_deleted(sender, instance: Chrono, **kwargs) -> None:
    # post_delete, not Model.delete(): admin bulk delete and querysets skip the latter.
    beat_sync.unsync(instance.pk)


# A run that becomes final is counted for the dashboard and /metrics (automations/runs/tallies.py).
post_save.connect(tallies.run_saved, sender=ChronoRun, dispatch_uid="run_tallies")
