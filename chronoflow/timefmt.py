"""Times as operators read them: in their zone, with seconds, labelled with the zone.

The zone is the active one (the operator's profile, else the deployment's TIME_ZONE; for
commands, TIME_ZONE) unless one is given, e.g. a chrono's own zone for its fire times.
"""

from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo

from django.utils import formats, timezone


def local_time(when: datetime | None, zone: str | tzinfo | None = None, empty: str = "-") -> str:
    """'02/12/2026 08:00:05 -03 (America/Sao_Paulo)' in pt-BR, '2026-12-02 08:00:05 -03 (…)' in English."""
    if when is None:
        return empty
    zone = ZoneInfo(zone) if isinstance(zone, str) else zone or timezone.get_current_timezone()
    local = timezone.localtime(when, zone)
    text = formats.date_format(local, "DATETIME_FORMAT")
    name = zone_name(zone)
    return text if name == local.tzname() else f"{text} ({name})"


def zone_name(zone: tzinfo | None = None) -> str:
    """The IANA name of ``zone`` (default: the active zone), e.g. America/Sao_Paulo."""
    zone = zone or timezone.get_current_timezone()
    return getattr(zone, "key", None) or str(zone)
