from django.db.models.signals import post_delete
from django.dispatch import receiver

from automations import beat_sync
from automations.models import Chrono


@receiver(post_delete, sender=Chrono, dispatch_uid="chrono_unsync")
def chrono_deleted(sender, instance: Chrono, **kwargs) -> None:
    # post_delete, not Model.delete(): admin bulk delete and querysets skip the latter.
    beat_sync.unsync(instance.pk)
