"""Times as operators read them: in their zone, with seconds, labelled with the zone.

The zone is the active one (the operator's profile, else the deployment's TIME_ZONE; for
commands, TIME_ZONE) unless one is given, e.g. a chrono's own zone for its fire times.
"""

import functools
from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo

from django.utils import dateformat, formats, timezone

# Django's format characters that strftime writes the same way: zero-padded numbers, the zone's abbreviation.
STRFTIME = {"d": "%d", "m": "%m", "Y": "%Y", "H": "%H", "i": "%M", "s": "%S", "T": "%Z"}


def local_time(when: datetime | None, zone: str | tzinfo | None = None, empty: str = "-") -> str:
    """'02/12/2026 08:00:05 -03 (America/Sao_Paulo)' in pt-BR, '2026-12-02 08:00:05 -03 (…)' in English."""
    if when is None:
        return empty
    zone = ZoneInfo(zone) if isinstance(zone, str) else zone or timezone.get_current_timezone()
    local = timezone.localtime(when, zone)
    text = format_datetime(local, formats.get_format("DATETIME_FORMAT"))
    name = zone_name(zone)
    return text if name == local.tzname() else f"{text} ({name})"


def zone_name(zone: tzinfo | None = None) -> str:
    """The IANA name of ``zone`` (default: the active zone), e.g. America/Sao_Paulo."""
    zone = zone or timezone.get_current_timezone()
    return getattr(zone, "key", None) or str(zone)


def format_datetime(when: datetime, django_format: str) -> str:
    """``dateformat.format(when, django_format)``, by strftime where that writes the same.

    The admin lists format a time or two a row; Django's formatter reads its format string
    character by character at each call."""
    pattern = strftime_pattern(django_format)
    if pattern is None or when.year < 1000 or _ambiguous(when):
        return dateformat.format(when, django_format)
    return when.strftime(pattern)


@functools.lru_cache(maxsize=32)
def strftime_pattern(django_format: str) -> str | None:
    """The strftime pattern of a Django format made of STRFTIME's characters and literals, else None."""
    pieces = []
    for i, piece in enumerate(dateformat.re_formatchars.split(django_format)):
        if i % 2:  # a format character
            if piece not in STRFTIME:
                return None
            pieces.append(STRFTIME[piece])
        elif piece:
            pieces.append(dateformat.re_escaped.sub(r"\1", piece).replace("%", "%%"))
    return "".join(pieces)


def _ambiguous(when: datetime) -> bool:
    # In a repeated or skipped hour Django writes no zone abbreviation ("T"); strftime would.
    return when.tzinfo is None or when.utcoffset() != when.replace(fold=not when.fold).utcoffset()
