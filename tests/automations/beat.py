"""The beat-exactness check every path that creates, edits, pauses or deletes chronos must pass."""

from django_celery_beat.models import PeriodicTask

from automations.models import Chrono


def assert_beat_matches_active_chronos() -> None:
    """Beat has exactly one task per active chrono, and none for paused or deleted ones."""
    tasks = set(PeriodicTask.objects.filter(name__startswith="chrono:").values_list("name", flat=True))
    active = {f"chrono:{pk}" for pk in Chrono.objects.filter(is_active=True).values_list("pk", flat=True)}
    assert tasks == active
