"""chronoflow/timefmt.py writes times as Django's date formats do, in English and Portuguese."""

from datetime import datetime, timedelta, timezone as dt_timezone
from zoneinfo import ZoneInfo

import pytest
from django.utils import dateformat, formats, translation

from chronoflow import timefmt

UTC = dt_timezone.utc
TIMES = [
    datetime(2026, 12, 2, 11, 0, 5, tzinfo=UTC),
    datetime(2026, 11, 1, 5, 30, tzinfo=UTC).astimezone(ZoneInfo("America/New_York")),  # the repeated hour
    datetime(2026, 3, 8, 7, 0, tzinfo=UTC).astimezone(ZoneInfo("America/New_York")),  # just after the skipped one
    datetime(2026, 6, 1, 23, 59, 59, tzinfo=UTC).astimezone(ZoneInfo("Asia/Kathmandu")),
    datetime(2026, 1, 1, tzinfo=UTC).astimezone(dt_timezone(timedelta(hours=-3))),
    datetime(5, 1, 1, 12, tzinfo=UTC),
]


@pytest.mark.parametrize("language", ["en", "pt-br"])
@pytest.mark.parametrize("when", TIMES, ids=str)
def test_it_writes_a_time_as_djangos_datetime_format(language, when):
    with translation.override(language):
        django_format = formats.get_format("DATETIME_FORMAT")
        assert timefmt.format_datetime(when, django_format) == dateformat.format(when, django_format)


@pytest.mark.parametrize("django_format", ["Y-m-d H:i:s T", r"d/m/Y \à\s H:i", "j \\d\\e F \\d\\e Y", "100% H:i"])
def test_any_format_gives_djangos_text(django_format):
    when = TIMES[0].astimezone(ZoneInfo("America/Sao_Paulo"))
    with translation.override("pt-br"):
        assert timefmt.format_datetime(when, django_format) == dateformat.format(when, django_format)


def test_a_format_strftime_cannot_write_is_left_to_django():
    assert timefmt.strftime_pattern("j F Y") is None
    assert timefmt.strftime_pattern("d/m/Y H:i:s T") == "%d/%m/%Y %H:%M:%S %Z"


def test_a_local_time_is_labelled_with_its_zone_in_portuguese():
    with translation.override("pt-br"):
        text = timefmt.local_time(datetime(2026, 12, 2, 11, 0, 5, tzinfo=UTC), "America/Sao_Paulo")
    assert text == "02/12/2026 08:00:05 -03 (America/Sao_Paulo)"
