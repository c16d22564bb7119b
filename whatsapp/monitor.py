"""The session health monitor: make WAHA match what ChronoFlow believes and wants.

Each run lists every WAHA session once (``GET /api/sessions?all=true``) and, per channel:
- repairs drift: the status WAHA reports wins over the one stored (e.g. a channel we
  believe WORKING whose session has FAILED);
- re-creates a session WAHA lost (a container restarted without its volume);
- restarts a session that should run but is FAILED or STOPPED, with exponential backoff
  (WAHA_MONITOR_BACKOFF_S, doubling) and at most WAHA_MONITOR_MAX_RESTARTS times until the
  session works again or an operator acts: endless restarts get numbers banned.
Every action is recorded as a MonitorAction.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from whatsapp.models import Channel, ChannelStatusChange, MonitorAction, current_provider, waha_client
from whatsapp.waha import WahaError

Action = MonitorAction.Action
SOURCE = ChannelStatusChange.Source.MONITOR


def check_sessions(now: datetime | None = None) -> list[MonitorAction]:
    """Compare every channel with WAHA once; the actions taken, oldest first."""
    now = now or timezone.now()
    try:
        listed = waha_client().list_sessions(all=True)
    except WahaError as exc:
        return [_record(None, Action.UNREACHABLE, str(exc), now)]
    sessions = {s["name"]: s for s in listed if isinstance(s, dict) and s.get("name")}
    actions: list[MonitorAction] = []
    # The deployment's provider's channels only: a channel of the other kind (made before
    # WAHA_BASE_URL was set, or unset) is not in this listing and must not be "re-created".
    for channel in Channel.objects.filter(provider=current_provider()).order_by("pk"):
        actions += check_channel(channel, sessions.get(channel.session_name), now)
    return actions


def check_channel(channel: Channel, session: dict | None, now: datetime) -> list[MonitorAction]:
    """Repair one channel against its WAHA session (None: WAHA does not have it)."""
    if session is None:
        return _missing(channel, now)
    actions = []
    reported = str(session.get("status") or Channel.Status.STOPPED)
    if isinstance(session.get("me"), dict):
        channel.set_me(session["me"])
    if reported != channel.status:
        detail = f"WAHA reports {reported}; ChronoFlow had {channel.status}."
        if channel.set_status(reported, at=now, source=SOURCE, detail=detail):
            actions.append(_record(channel, Action.STATUS_REPAIRED, detail, now))
        else:  # a webhook got there first: what we read at the start of the round is stale
            channel.refresh_from_db(fields=["status", "status_changed_at"])
    if channel.should_run and channel.status in (Channel.Status.FAILED, Channel.Status.STOPPED):
        actions += _restart_with_backoff(channel, now)
    return actions


def _missing(channel: Channel, now: datetime) -> list[MonitorAction]:
    if not channel.should_run:
        if channel.set_status(Channel.Status.STOPPED, at=now, source=SOURCE, detail="WAHA has no such session."):
            return [_record(channel, Action.STATUS_REPAIRED, "WAHA has no such session; marked STOPPED.", now)]
        return []
    try:
        channel.create_session(start=True)
    except WahaError as exc:
        channel.record_error(str(exc))
        return [_record(channel, Action.FAILED, f"Re-creating the lost session failed: {exc}", now)]
    channel.set_status(channel.status, at=now, source=SOURCE, detail="Session re-created.")
    return [_record(channel, Action.RECREATED, "WAHA had lost the session; re-created with its webhook.", now)]


def _restart_with_backoff(channel: Channel, now: datetime) -> list[MonitorAction]:
    limit = settings.WAHA_MONITOR_MAX_RESTARTS
    if channel.next_restart_at and now < channel.next_restart_at:
        return []  # backing off: the last restart gets its time
    if channel.restart_attempts >= limit:
        if channel.next_restart_at is None:
            return []  # gave up before: said so once, waits for an operator
        Channel.objects.filter(pk=channel.pk).update(next_restart_at=None)
        detail = f"Still {channel.status} after {limit} restarts; waiting for an operator (restart, or log out and scan again)."
        channel.record_error(f"The health monitor gave up: {detail}")  # so the API and health say why it is down
        return [_record(channel, Action.GAVE_UP, detail, now)]
    attempt = channel.restart_attempts + 1
    delay = timedelta(seconds=settings.WAHA_MONITOR_BACKOFF_S * 2 ** (attempt - 1))
    Channel.objects.filter(pk=channel.pk).update(restart_attempts=attempt, next_restart_at=now + delay)
    stopped = channel.status == Channel.Status.STOPPED
    try:
        (channel.start if stopped else channel.restart)(source=SOURCE)
    except WahaError as exc:
        return [_record(channel, Action.FAILED, f"Restart {attempt} of {limit} failed: {exc}", now)]
    action = Action.STARTED if stopped else Action.RESTARTED
    return [_record(channel, action, f"Attempt {attempt} of {limit}; next no sooner than {now + delay:%H:%M:%S} UTC.", now)]


def _record(channel: Channel | None, action: str, detail: str, now: datetime) -> MonitorAction:
    return MonitorAction.objects.create(channel=channel, action=action, detail=detail, created_at=now)
