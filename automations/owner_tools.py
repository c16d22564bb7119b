"""The owner assistant's built-in tools: read-only answers about ChronoFlow itself.

They live here, not in assistants/, because they read automations' models and the imports
go one way (automations -> assistants, contacts). Campaign results are not here: ChronoFlow
has no campaigns yet. Each returns small JSON the model can summarise.
"""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count
from django.utils import timezone

from assistants.tools import Builtin
from automations.models import Chrono, ChronoRun
from contacts.models import Contact
from whatsapp.models import Channel

LIST_LIMIT = 20


def _start_of_today() -> datetime:
    zone = ZoneInfo(settings.DEFAULT_TIMEZONE)
    return datetime.combine(timezone.localdate(timezone=zone), time.min, tzinfo=zone)


def runs_today(_arguments: dict) -> dict:
    """Runs since midnight (DEFAULT_TIMEZONE) by status, and the chronos whose runs failed."""
    runs = ChronoRun.objects.filter(scheduled_for__gte=_start_of_today())
    by_status = dict(runs.values_list("status").annotate(n=Count("pk")).order_by())
    failed = (runs.filter(status__in=[ChronoRun.Status.FAILED, ChronoRun.Status.TIMEOUT])
              .values_list("chrono__name").annotate(n=Count("pk")).order_by("-n")[:LIST_LIMIT])
    return {"since": _start_of_today().isoformat(), "total": sum(by_status.values()), "by_status": by_status,
            "failed_by_chrono": dict(failed)}


def failing_chronos(_arguments: dict) -> list[dict]:
    """Active chronos whose last run failed or timed out."""
    chronos = Chrono.objects.filter(is_active=True, last_run_status__in=["failed", "timeout"]).order_by("name")
    return [{"name": c.name, "last_run_at": c.last_run_at.isoformat() if c.last_run_at else None,
             "last_error": c.last_error[:200]} for c in chronos[:LIST_LIMIT]]


def channels_not_working(_arguments: dict) -> list[dict]:
    """WhatsApp channels whose session is not WORKING."""
    channels = Channel.objects.exclude(status=Channel.Status.WORKING).order_by("name")
    return [{"name": c.name, "status": c.status,
             "since": c.status_changed_at.isoformat() if c.status_changed_at else None} for c in channels[:LIST_LIMIT]]


INACTIVE_SCHEMA = {
    "type": "object",
    "properties": {"days": {"type": "integer", "minimum": 1, "maximum": 3650,
                            "description": "Inactive for at least this many days."}},
    "required": ["days"],
}


def inactive_contacts(arguments: dict) -> dict:
    """Contacts whose last message is at least ``days`` old, the most recently active first.

    Opted-out contacts are left out: they cannot be written to, so they are not to win back.
    """
    cutoff = timezone.now() - timedelta(days=int(arguments["days"]))
    quiet = Contact.objects.filter(opted_out=False, last_message_at__lt=cutoff).order_by("-last_message_at")
    return {"days": int(arguments["days"]), "total": quiet.count(),
            "contacts": [{"name": c.name, "phone": f"+{c.phone}" if c.phone else "",
                          "last_message_at": c.last_message_at.isoformat()} for c in quiet[:LIST_LIMIT]]}


TOOLS = {
    "runs_today": Builtin("Counts of today's runs by status (success, failed, timeout...) and which chronos failed.",
                          runs_today),
    "failing_chronos": Builtin("Active chronos whose last run failed, with the error.", failing_chronos),
    "channels_not_working": Builtin("WhatsApp channels that are not connected (not WORKING).", channels_not_working),
    "inactive_contacts": Builtin("Contacts who have not written for at least N days (not opted out), with the "
                                 "date of their last message.", inactive_contacts, INACTIVE_SCHEMA),
}
