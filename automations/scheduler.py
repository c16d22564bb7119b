"""Old dotted path of the beat scheduler, kept for deployments whose command line names it."""
from automations.beat.scheduler import ChronoScheduler  # noqa: F401
