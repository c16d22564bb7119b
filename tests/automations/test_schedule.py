"""automations/schedule.py: what operators may type, when chronos fire, how schedules read.

No database: schedule.py is pure. Every clock is passed in (`now`, `after`, `at`).
DST dates for Europe/Berlin in 2026: spring forward 2026-03-29 02:00 CET -> 03:00 CEST
(01:00 UTC); fall back 2026-10-25 03:00 CEST -> 02:00 CET (01:00 UTC).
"""

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from automations.schedule import (
    ACCEPTED_FORMS,
    Schedule,
    ScheduleError,
    describe,
    from_normalised,
    gap_note,
    next_fire_times,
    parse,
    previous_fire_time,
)

UTC = timezone.utc
BERLIN = "Europe/Berlin"
SAO_PAULO = "America/Sao_Paulo"
NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def spellings(cases):
    """Each case as written, in UPPER CASE and in aLtErNaTiNg case, with readable ids."""
    params = []
    for text, *expected in cases:
        alternating = "".join(c.upper() if i % 2 else c.lower() for i, c in enumerate(text))
        for variant in dict.fromkeys((text, text.upper(), alternating)):
            params.append(pytest.param(variant, *expected, id=variant))
    return params


def parsed(text: str, tz: str = BERLIN) -> Schedule:
    return parse(text, tz, NOW)


# --------------------------------------------------------------------------- accepted text

RELATIVE_DELAYS = [
    ("in 10 min", timedelta(minutes=10)),
    ("in 2 h", timedelta(hours=2)),
    ("in 30 seconds", timedelta(seconds=30)),
    ("in 1 hour", timedelta(hours=1)),
    ("in 45 secs", timedelta(seconds=45)),
    ("in 3 days", timedelta(days=3)),
    ("em 10 minutos", timedelta(minutes=10)),
    ("em 2 horas", timedelta(hours=2)),
    ("em 30 segundos", timedelta(seconds=30)),
    ("em 1 dia", timedelta(days=1)),
    ("daqui a 5 min", timedelta(minutes=5)),
    ("daqui a 2 horas", timedelta(hours=2)),
]


@pytest.mark.parametrize(("text", "delay"), spellings(RELATIVE_DELAYS))
def test_it_reads_a_delay_as_a_one_shot_counted_from_now(text, delay):
    schedule = parse(text, BERLIN, NOW)

    assert (schedule.kind, schedule.run_at) == ("once", NOW + delay)


INTERVALS = [
    ("10 min", 600),
    ("6h", 21600),
    ("30s", 30),
    ("2 d", 172800),
    ("every 15 minutes", 900),
    ("every 30 seconds", 30),
    ("every 2 hours", 7200),
    ("every 1 hour", 3600),
    ("every 45 mins", 2700),
    ("every 3 hrs", 10800),
    ("every 2 days", 172800),
    ("a cada 15 min", 900),
    ("a cada 30 segundos", 30),
    ("a cada 2 horas", 7200),
    ("a cada 10 minutos", 600),
    ("a cada 2 dias", 172800),
]


@pytest.mark.parametrize(("text", "seconds"), spellings(INTERVALS))
def test_it_reads_an_interval_as_a_number_of_seconds(text, seconds):
    schedule = parse(text, BERLIN, NOW)

    assert (schedule.kind, schedule.expression, schedule.interval_seconds) == (
        "interval", str(seconds), seconds)


CALENDAR_PHRASES = [
    ("todo dia às 08:00", "0 8 * * *"),
    ("todo dia as 08:00", "0 8 * * *"),
    ("todo dia às 18", "0 18 * * *"),
    ("todo dia as 18", "0 18 * * *"),
    ("todos os dias às 7h30", "30 7 * * *"),
    ("todos os dias as 7h30", "30 7 * * *"),
    ("diariamente às 6h", "0 6 * * *"),
    ("daily at 07:30", "30 7 * * *"),
    ("every day at 7pm", "0 19 * * *"),
    ("every monday at 9:00", "0 9 * * 1"),
    ("on fridays at 17:45", "45 17 * * 5"),
    ("toda segunda às 9h", "0 9 * * 1"),
    ("toda segunda as 9h", "0 9 * * 1"),
    ("toda segunda-feira às 9h", "0 9 * * 1"),
    ("toda segunda-feira as 9h", "0 9 * * 1"),
    ("weekdays at 08:00", "0 8 * * 1-5"),
    ("every weekday at 8", "0 8 * * 1-5"),
    ("dias úteis às 8h", "0 8 * * 1-5"),
    ("dias uteis as 8h", "0 8 * * 1-5"),
    ("todo dia útil às 8h", "0 8 * * 1-5"),
    ("todo dia util as 8h", "0 8 * * 1-5"),
    ("weekends at 10:00", "0 10 * * 0,6"),
    ("fins de semana às 10h", "0 10 * * 0,6"),
    ("fins de semana as 10h", "0 10 * * 0,6"),
    ("todo fim de semana às 10h", "0 10 * * 0,6"),
]


@pytest.mark.parametrize(("text", "expression"), spellings(CALENDAR_PHRASES))
def test_it_reads_a_daily_or_weekly_phrase_as_cron(text, expression):
    schedule = parse(text, BERLIN, NOW)

    assert (schedule.kind, schedule.expression) == ("cron", expression)


@pytest.mark.parametrize("text", spellings([("every hour",), ("hourly",), ("de hora em hora",)]))
def test_it_reads_every_hour_as_cron_on_the_hour(text):
    assert parse(text, BERLIN, NOW).expression == "0 * * * *"


WEEKDAY_PHRASES = [
    ("every monday at 9", 1), ("on mon at 9", 1), ("toda segunda às 9", 1),
    ("toda segunda-feira as 9", 1),
    ("every tuesday at 9", 2), ("every tue at 9", 2), ("toda terça às 9", 2), ("toda terca as 9", 2),
    ("toda terça-feira às 9", 2), ("toda terca-feira as 9", 2),
    ("every wednesday at 9", 3), ("every wed at 9", 3), ("toda quarta às 9", 3),
    ("toda quarta-feira as 9", 3),
    ("every thursday at 9", 4), ("every thu at 9", 4), ("toda quinta às 9", 4),
    ("toda quinta-feira as 9", 4),
    ("every friday at 9", 5), ("every fri at 9", 5), ("toda sexta às 9", 5),
    ("toda sexta-feira as 9", 5),
    ("every saturday at 9", 6), ("every sat at 9", 6), ("todo sábado às 9", 6),
    ("todo sabado as 9", 6), ("aos sábados às 9", 6),
    ("every sunday at 9", 0), ("every sun at 9", 0), ("todo domingo às 9", 0),
    ("todo domingo as 9", 0), ("aos domingos às 9", 0),
]


@pytest.mark.parametrize(("phrase", "day_of_week"), spellings(WEEKDAY_PHRASES))
def test_it_knows_every_weekday_name_in_english_and_portuguese(phrase, day_of_week):
    assert parse(phrase, BERLIN, NOW).expression == f"0 9 * * {day_of_week}"


TIMES_OF_DAY = [
    ("8", "0 8"), ("08:00", "0 8"), ("8h", "0 8"), ("8h30", "30 8"), ("7:30", "30 7"),
    ("7pm", "0 19"), ("7:30 am", "30 7"), ("7:30 pm", "30 19"), ("12am", "0 0"),
    ("12pm", "0 12"), ("0", "0 0"), ("23:59", "59 23"),
]


@pytest.mark.parametrize(("time_text", "minute_hour"), spellings(TIMES_OF_DAY))
def test_it_reads_a_time_of_day_in_every_written_form(time_text, minute_hour):
    assert parse(f"daily at {time_text}", BERLIN, NOW).expression == f"{minute_hour} * * *"


@pytest.mark.parametrize(("text", "expression"), [
    ("0 8 * * *", "0 8 * * *"),
    ("  0   8 *  * *  ", "0 8 * * *"),
    ("*/15 * * * *", "*/15 * * * *"),
    ("30 7 * * 1-5", "30 7 * * 1-5"),
    ("0 9 * * MON-FRI", "0 9 * * mon-fri"),
    ("0 0 1 jan,jul *", "0 0 1 jan,jul *"),
    ("0 8 1,15 * *", "0 8 1,15 * *"),
    ("@hourly", "0 * * * *"),
    ("@DAILY", "0 0 * * *"),
])
def test_it_normalises_a_five_field_cron_expression(text, expression):
    assert parse(text, BERLIN, NOW) == Schedule("cron", expression)


def test_it_ignores_surrounding_whitespace():
    assert parse("  \t every 15 minutes \n", BERLIN, NOW).interval_seconds == 900


@pytest.mark.parametrize("text", [
    "2026-12-01 10:00", "2026-12-01T10:00", "2026-12-01t10:00:00", "01/12/2026 10:00",
    "01/12/2026 às 10h", "01/12/2026 as 10h", "1/12/2026 10:00",
])
def test_it_reads_a_date_and_time_as_wall_time_in_the_chronos_timezone(text):
    assert parse(text, BERLIN, NOW).run_at == utc(2026, 12, 1, 9, 0)
    assert parse(text, SAO_PAULO, NOW).run_at == utc(2026, 12, 1, 13, 0)


@pytest.mark.parametrize(("text", "run_at"), [
    ("2026-12-01T10:00:00-03:00", utc(2026, 12, 1, 13, 0)),
    ("2026-12-01T13:00:00Z", utc(2026, 12, 1, 13, 0)),
    ("2026-12-01t13:00:00z", utc(2026, 12, 1, 13, 0)),
    ("2026-12-01T10:00:00+05:30", utc(2026, 12, 1, 4, 30)),
])
def test_an_iso_time_with_an_offset_keeps_its_offset_whatever_the_timezone(text, run_at):
    assert parse(text, BERLIN, NOW).run_at == run_at
    assert parse(text, SAO_PAULO, NOW).run_at == run_at


def test_a_one_shot_is_stored_as_iso_8601_in_utc():
    schedule = parse("2026-12-01 10:00", BERLIN, NOW)

    assert schedule == Schedule("once", "2026-12-01T09:00:00+00:00", utc(2026, 12, 1, 9, 0))


def test_a_delay_is_counted_from_now_whatever_timezone_now_is_in():
    now_in_sao_paulo = NOW.astimezone(ZoneInfo(SAO_PAULO))

    schedule = parse("in 10 min", BERLIN, now_in_sao_paulo)

    assert schedule.run_at == utc(2026, 6, 15, 12, 10)
    assert schedule.run_at.tzinfo == UTC


def test_a_wall_time_in_the_spring_gap_moves_to_the_end_of_the_gap():
    # 02:30 does not exist in Berlin on 2026-03-29; the first valid instant is 03:00 CEST.
    assert parse("2026-03-29 02:30", BERLIN, NOW).run_at == utc(2026, 3, 29, 1, 0)


def test_a_wall_time_in_the_autumn_overlap_is_its_first_occurrence():
    # 02:30 happens twice in Berlin on 2026-10-25; the first is 02:30 CEST.
    assert parse("2026-10-25 02:30", BERLIN, NOW).run_at == utc(2026, 10, 25, 0, 30)


def test_every_example_in_the_accepted_forms_is_accepted():
    example_lines = [line.strip() for line in ACCEPTED_FORMS.splitlines() if line.startswith("    ")]
    examples = [text for line in example_lines for text in line.split(", ") if text]

    assert len(examples) > 30
    for text in examples:
        parse(text, BERLIN, NOW)  # raises ScheduleError if the help text lies


# --------------------------------------------------------------------------- refusals

def test_it_refuses_a_six_field_cron():
    # Seconds 30: no 5-field cron fires then. Seconds 0 are converted (see the six-field tests below).
    with pytest.raises(ScheduleError) as refusal:
        parse("30 0 8 * * *", BERLIN, NOW)

    assert "6 fields; only 5-field cron expressions" in str(refusal.value)
    assert ACCEPTED_FORMS in str(refusal.value)


def test_it_refuses_a_seven_field_cron():
    with pytest.raises(ScheduleError, match="7 fields; only 5-field cron expressions"):
        parse("0 0 8 * * * 2026", BERLIN, NOW)


@pytest.mark.parametrize("text", [
    "daily at 24:00", "todo dia às 25h", "todo dia as 25h", "every monday at 13pm", "0 24 * * *",
])
def test_it_refuses_an_hour_past_23(text):
    with pytest.raises(ScheduleError, match="(?i)hour|out of range"):
        parse(text, BERLIN, NOW)


@pytest.mark.parametrize("text", ["daily at 8:60", "todos os dias às 7h75", "01/12/2026 10:99"])
def test_it_refuses_a_minute_past_59(text):
    with pytest.raises(ScheduleError, match="Minute"):
        parse(text, BERLIN, NOW)


@pytest.mark.parametrize("text", [
    "whenever", "every day", "todo dia", "todo dia 8", "0 8 * *", "", "   ", "every", "in soon",
    "31/02/2026 10:00", "0 min", "in 0 seconds", "0 0 31 2 *", "0 8 L * *", "0 8 * * 1#2",
    "61 * * * *",
])
def test_a_refusal_lists_the_accepted_forms(text):
    with pytest.raises(ScheduleError) as refusal:
        parse(text, BERLIN, NOW)

    assert ACCEPTED_FORMS in str(refusal.value)
    assert refusal.value.problem  # the first line says what was wrong with this text


@pytest.mark.parametrize("text", ["every day", "todo dia", "toda segunda", "weekdays"])
def test_a_day_without_a_time_is_refused_asking_for_a_time(text):
    with pytest.raises(ScheduleError, match="needs a time of day"):
        parse(text, BERLIN, NOW)


@pytest.mark.parametrize("text", ["0 min", "0s", "every 0 seconds", "in 0 min"])
def test_it_refuses_an_interval_or_delay_shorter_than_a_second(text):
    with pytest.raises(ScheduleError, match="at least 1 second"):
        parse(text, BERLIN, NOW)


def test_it_refuses_a_cron_that_never_fires():
    with pytest.raises(ScheduleError, match="never fires"):
        parse("0 0 31 2 *", BERLIN, NOW)


def test_it_refuses_non_standard_cron_syntax():
    with pytest.raises(ScheduleError, match="non-standard"):
        parse("0 8 L * *", BERLIN, NOW)


def test_it_refuses_an_impossible_date():
    with pytest.raises(ScheduleError, match="not a valid date"):
        parse("31/02/2026 10:00", BERLIN, NOW)


def test_it_refuses_an_unknown_timezone():
    with pytest.raises(ScheduleError, match="Unknown timezone"):
        parse("10 min", "Mars/Olympus_Mons", NOW)


def test_a_naive_now_is_a_programming_error_not_an_operator_error():
    with pytest.raises(ValueError, match="timezone-aware") as error:
        parse("in 10 min", BERLIN, datetime(2026, 6, 15, 12, 0))

    assert not isinstance(error.value, ScheduleError)


# --------------------------------------------------------------------------- Schedule

def test_only_an_interval_has_interval_seconds():
    assert parsed("0 8 * * *").interval_seconds is None
    assert parsed("in 10 min").interval_seconds is None
    assert parsed("15 min").interval_seconds == 900


def test_only_a_one_shot_is_not_recurring():
    assert parsed("0 8 * * *").is_recurring
    assert parsed("15 min").is_recurring
    assert not parsed("in 10 min").is_recurring


@pytest.mark.parametrize("text", ["toda segunda às 9h", "every 15 minutes", "2026-12-01T10:00:00-03:00"])
def test_from_normalised_rebuilds_what_parse_made(text):
    parsed = parse(text, BERLIN, NOW)

    assert from_normalised(parsed.kind, parsed.expression, parsed.run_at) == parsed


def test_from_normalised_reads_a_one_shot_from_its_expression_alone():
    rebuilt = from_normalised("once", "2026-12-01T13:00:00+00:00", None)

    assert rebuilt.run_at == utc(2026, 12, 1, 13, 0)


@pytest.mark.parametrize(("kind", "expression", "run_at"), [
    ("weekly", "0 8 * * *", None),
    ("cron", "0 8 * * * *", None),
    ("interval", "soon", None),
    ("interval", "0", None),
    ("once", "2026-12-01T13:00:00", None),
])
def test_from_normalised_refuses_what_parse_would_not_have_made(kind, expression, run_at):
    with pytest.raises(ScheduleError):
        from_normalised(kind, expression, run_at)


# --------------------------------------------------------------------------- cron fire times

def test_a_daily_cron_fires_at_wall_time_in_sao_paulo():
    fires = next_fire_times(parsed("todo dia às 08:00", SAO_PAULO), SAO_PAULO, utc(2026, 6, 1, 12, 0), n=3)

    assert fires == [utc(2026, 6, 2, 11, 0), utc(2026, 6, 3, 11, 0), utc(2026, 6, 4, 11, 0)]


def test_a_daily_cron_follows_berlins_summer_and_winter_offsets():
    schedule = parsed("daily at 08:00")

    assert next_fire_times(schedule, BERLIN, utc(2026, 1, 10, 12, 0), n=1) == [utc(2026, 1, 11, 7, 0)]
    assert next_fire_times(schedule, BERLIN, utc(2026, 7, 10, 12, 0), n=1) == [utc(2026, 7, 11, 6, 0)]


def test_fire_times_are_returned_in_utc():
    fires = next_fire_times(parsed("0 8 * * *"), ZoneInfo(SAO_PAULO), NOW)

    assert len(fires) == 5
    assert all(fire.utcoffset() == timedelta(0) for fire in fires)


def test_fire_times_are_strictly_after_after():
    exactly_at_a_fire_time = utc(2026, 6, 2, 11, 0)

    fires = next_fire_times(parsed("0 8 * * *", SAO_PAULO), SAO_PAULO, exactly_at_a_fire_time, n=1)

    assert fires == [utc(2026, 6, 3, 11, 0)]


def test_a_weekday_cron_skips_the_weekend_in_the_chronos_timezone():
    friday_noon = utc(2026, 6, 12, 12, 0)

    fires = next_fire_times(parsed("dias úteis às 8h", SAO_PAULO), SAO_PAULO, friday_noon, n=2)

    assert fires == [utc(2026, 6, 15, 11, 0), utc(2026, 6, 16, 11, 0)]


def test_it_gives_as_many_fire_times_as_asked():
    assert len(next_fire_times(parsed("*/5 * * * *"), BERLIN, NOW, n=12)) == 12
    assert next_fire_times(parsed("*/5 * * * *"), BERLIN, NOW, n=0) == []


def test_a_fixed_time_in_the_spring_gap_fires_once_when_the_gap_ends():
    fires = next_fire_times(parsed("30 2 * * *"), BERLIN, utc(2026, 3, 28, 12, 0), n=2)

    # 02:30 does not exist on 2026-03-29: 03:00 CEST (01:00 UTC), then 02:30 CEST again.
    assert fires == [utc(2026, 3, 29, 1, 0), utc(2026, 3, 30, 0, 30)]


def test_several_fixed_times_in_the_spring_gap_collapse_into_one_run():
    fires = next_fire_times(parsed("0,30 2 * * *"), BERLIN, utc(2026, 3, 28, 12, 0), n=2)

    assert fires == [utc(2026, 3, 29, 1, 0), utc(2026, 3, 30, 0, 0)]


def test_an_hourly_cron_follows_real_time_across_the_spring_gap():
    fires = next_fire_times(parsed("every hour"), BERLIN, utc(2026, 3, 28, 23, 30), n=3)

    # 01:00 CET, then 03:00 CEST: one real hour apart; the missing 02:00 does not run.
    assert fires == [utc(2026, 3, 29, 0, 0), utc(2026, 3, 29, 1, 0), utc(2026, 3, 29, 2, 0)]


def test_a_wildcard_minute_cron_skips_the_missing_hour_in_spring():
    fires = next_fire_times(parsed("*/15 * * * *"), BERLIN, utc(2026, 3, 29, 0, 40), n=3)

    assert fires == [utc(2026, 3, 29, 0, 45), utc(2026, 3, 29, 1, 0), utc(2026, 3, 29, 1, 15)]


def test_a_fixed_time_in_the_autumn_overlap_fires_only_at_its_first_occurrence():
    fires = next_fire_times(parsed("30 2 * * *"), BERLIN, utc(2026, 10, 24, 12, 0), n=2)

    # 02:30 CEST (00:30 UTC) runs; 02:30 CET (01:30 UTC) an hour later does not.
    assert fires == [utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)]


def test_a_fixed_hour_range_does_not_repeat_the_overlapping_hour():
    fires = next_fire_times(parsed("0 1-3 * * *"), BERLIN, utc(2026, 10, 24, 22, 0), n=3)

    # 01:00 CEST, 02:00 CEST, 03:00 CET; the second 02:00 (CET) is skipped.
    assert fires == [utc(2026, 10, 24, 23, 0), utc(2026, 10, 25, 0, 0), utc(2026, 10, 25, 2, 0)]


def test_an_hourly_cron_runs_in_both_passes_of_the_autumn_overlap():
    fires = next_fire_times(parsed("0 * * * *"), BERLIN, utc(2026, 10, 24, 22, 30), n=4)

    # 01:00 CEST, 02:00 CEST, 02:00 CET, 03:00 CET: one real hour apart each.
    assert fires == [utc(2026, 10, 24, 23, 0), utc(2026, 10, 25, 0, 0),
                     utc(2026, 10, 25, 1, 0), utc(2026, 10, 25, 2, 0)]


def test_a_wildcard_minute_cron_runs_in_both_passes_of_the_autumn_overlap_in_order():
    fires = next_fire_times(parsed("*/15 * * * *"), BERLIN, utc(2026, 10, 24, 23, 50), n=9)

    assert fires == [utc(2026, 10, 25, 0, 0) + timedelta(minutes=15 * k) for k in range(9)]


def test_next_fire_times_inside_the_second_pass_of_the_overlap_are_not_missed():
    # after = 02:50 CEST; the next run is 02:00 CET, earlier on the wall clock but later in time.
    fires = next_fire_times(parsed("*/15 * * * *"), BERLIN, utc(2026, 10, 25, 0, 50), n=2)

    assert fires == [utc(2026, 10, 25, 1, 0), utc(2026, 10, 25, 1, 15)]


# --------------------------------------------------------------------------- previous fire time

def test_previous_fire_time_of_a_cron_is_the_latest_at_or_before_at():
    schedule = parsed("0 8 * * *", SAO_PAULO)

    assert previous_fire_time(schedule, SAO_PAULO, utc(2026, 6, 2, 10, 59)) == utc(2026, 6, 1, 11, 0)
    assert previous_fire_time(schedule, SAO_PAULO, utc(2026, 6, 2, 11, 0)) == utc(2026, 6, 2, 11, 0)


def test_previous_fire_time_of_a_fixed_time_ignores_the_second_pass_of_the_overlap():
    at = utc(2026, 10, 25, 1, 40)  # 02:40 CET, after the second 02:30

    assert previous_fire_time(parsed("30 2 * * *"), BERLIN, at) == utc(2026, 10, 25, 0, 30)


def test_previous_fire_time_of_a_wildcard_cron_sees_the_second_pass_of_the_overlap():
    at = utc(2026, 10, 25, 1, 10)  # 02:10 CET

    assert previous_fire_time(parsed("*/15 * * * *"), BERLIN, at) == utc(2026, 10, 25, 1, 0)


def test_previous_fire_time_of_a_fixed_time_in_the_spring_gap_is_the_end_of_the_gap():
    at = utc(2026, 3, 29, 1, 30)  # 03:30 CEST

    assert previous_fire_time(parsed("30 2 * * *"), BERLIN, at) == utc(2026, 3, 29, 1, 0)


# --------------------------------------------------------------------------- intervals

def test_an_interval_fires_at_anchor_plus_whole_intervals():
    anchor, after = utc(2026, 6, 15, 12, 0), utc(2026, 6, 15, 12, 31)

    fires = next_fire_times(parsed("15 min"), BERLIN, after, n=3, anchor=anchor)

    assert fires == [utc(2026, 6, 15, 12, 45), utc(2026, 6, 15, 13, 0), utc(2026, 6, 15, 13, 15)]


def test_an_interval_without_anchor_counts_from_after():
    fires = next_fire_times(parsed("15 min"), BERLIN, utc(2026, 6, 15, 12, 31), n=2)

    assert fires == [utc(2026, 6, 15, 12, 46), utc(2026, 6, 15, 13, 1)]


def test_an_interval_does_not_fire_before_a_future_anchor():
    fires = next_fire_times(parsed("15 min"), BERLIN, NOW, n=2, anchor=utc(2026, 6, 20, 9, 0))

    assert fires == [utc(2026, 6, 20, 9, 0), utc(2026, 6, 20, 9, 15)]


def test_an_interval_counts_real_time_across_a_dst_change():
    # 5 h, not 6 h: intervals of hours dividing 24 fire on the hour of the zone instead (below).
    fires = next_fire_times(parsed("5h"), BERLIN, utc(2026, 3, 28, 23, 0), n=2,
                            anchor=utc(2026, 3, 28, 20, 0))

    # 21:00 CET + 5 real hours = 03:00 CEST (01:00 UTC), across the missing hour.
    assert fires == [utc(2026, 3, 29, 1, 0), utc(2026, 3, 29, 6, 0)]


def test_interval_fire_times_are_whole_seconds_when_the_anchor_has_microseconds():
    anchor = utc(2026, 6, 15, 12, 0, 0, 250_000)  # a row's created_at

    fires = next_fire_times(parsed("15 min"), BERLIN, anchor, n=2, anchor=anchor)

    assert fires == [utc(2026, 6, 15, 12, 15), utc(2026, 6, 15, 12, 30)]


def test_a_just_created_interval_first_fires_one_interval_later_not_at_once():
    created = utc(2026, 6, 15, 12, 0, 0, 250_000)

    fires = next_fire_times(parsed("15 min"), BERLIN, created + timedelta(milliseconds=5), n=1, anchor=created)

    assert fires == [utc(2026, 6, 15, 12, 15)]


def test_interval_fire_times_are_whole_seconds_when_counted_from_an_after_with_microseconds():
    fires = next_fire_times(parsed("15 min"), BERLIN, utc(2026, 6, 15, 12, 31, 0, 999_999), n=2)

    assert fires == [utc(2026, 6, 15, 12, 46), utc(2026, 6, 15, 13, 1)]


def test_previous_fire_time_of_an_interval_is_a_whole_second_too():
    anchor = utc(2026, 6, 15, 12, 0, 0, 250_000)

    assert previous_fire_time(parsed("15 min"), BERLIN, utc(2026, 6, 15, 12, 31), anchor) == utc(2026, 6, 15, 12, 30)


def test_previous_fire_time_of_an_interval_is_the_latest_whole_interval_after_the_anchor():
    schedule, anchor = parsed("15 min"), utc(2026, 6, 15, 12, 0)

    assert previous_fire_time(schedule, BERLIN, utc(2026, 6, 15, 12, 31), anchor) == utc(2026, 6, 15, 12, 30)
    assert previous_fire_time(schedule, BERLIN, anchor, anchor) == anchor
    assert previous_fire_time(schedule, BERLIN, utc(2026, 6, 15, 11, 59), anchor) is None


def test_previous_fire_time_of_an_interval_without_anchor_is_none():
    assert previous_fire_time(parsed("15 min"), BERLIN, NOW) is None


# --------------------------------------------------------------------------- one-shots

def test_a_future_one_shot_fires_once():
    schedule = parsed("2026-12-01 10:00")

    assert next_fire_times(schedule, BERLIN, NOW) == [utc(2026, 12, 1, 9, 0)]


def test_a_one_shot_in_the_past_has_no_fire_times():
    schedule = parsed("2026-01-01 10:00")

    assert next_fire_times(schedule, BERLIN, NOW) == []
    assert next_fire_times(schedule, BERLIN, schedule.run_at) == []


def test_previous_fire_time_of_a_one_shot_is_its_run_at_once_reached():
    schedule = parsed("2026-12-01 10:00")

    assert previous_fire_time(schedule, BERLIN, utc(2026, 12, 1, 8, 59)) is None
    assert previous_fire_time(schedule, BERLIN, utc(2026, 12, 1, 9, 0)) == utc(2026, 12, 1, 9, 0)


# --------------------------------------------------------------------------- descriptions

@pytest.mark.parametrize(("text", "tz", "english", "portuguese"), [
    ("todo dia às 08:00", SAO_PAULO, "At 08:00 AM (America/Sao_Paulo)", "Às 08:00 (America/Sao_Paulo)"),
    ("every day at 7pm", BERLIN, "At 07:00 PM (Europe/Berlin)", "Às 19:00 (Europe/Berlin)"),
    ("weekdays at 08:00", BERLIN, "At 08:00 AM, Monday through Friday (Europe/Berlin)",
     "Às 08:00, de segunda-feira a sexta-feira (Europe/Berlin)"),
    ("toda segunda às 9h", BERLIN, "At 09:00 AM, only on Monday (Europe/Berlin)",
     "Às 09:00, às segundas-feiras (Europe/Berlin)"),
    ("*/15 * * * *", BERLIN, "Every 15 minutes (Europe/Berlin)", "A cada 15 minutos (Europe/Berlin)"),
    ("0 8 1 12 *", BERLIN, "At 08:00 AM, on day 1 of the month, only in December (Europe/Berlin)",
     "Às 08:00, no dia 1 do mês, somente em dezembro (Europe/Berlin)"),
    ("40 * * * *", BERLIN, "At 40 minutes past the hour (Europe/Berlin)",
     "Aos 40 minutos de cada hora (Europe/Berlin)"),
    ("1 * * * *", BERLIN, "At 1 minute past the hour (Europe/Berlin)", "No minuto 1 de cada hora (Europe/Berlin)"),
    ("15,45 * * * *", BERLIN, "At 15 and 45 minutes past the hour (Europe/Berlin)",
     "Aos 15 e 45 minutos de cada hora (Europe/Berlin)"),
])
def test_a_cron_is_described_with_its_timezone(text, tz, english, portuguese):
    schedule = parse(text, tz, NOW)

    assert describe(schedule, tz, "en") == english
    assert describe(schedule, tz, "pt_BR") == portuguese


@pytest.mark.parametrize(("text", "english", "portuguese"), [
    ("every 15 minutes", "Every 15 minutes", "A cada 15 minutos"),
    ("30s", "Every 30 seconds", "A cada 30 segundos"),
    ("a cada 5 horas", "Every 5 hours", "A cada 5 horas"),  # 2 h is aligned: see the aligned tests
    ("90 min", "Every 90 minutes", "A cada 90 minutos"),
    ("1 min", "Every minute", "A cada minuto"),
    ("2 d", "Every 2 days", "A cada 2 dias"),
])
def test_an_interval_is_described_in_its_largest_whole_unit(text, english, portuguese):
    schedule = parse(text, BERLIN, NOW)

    assert describe(schedule, BERLIN, "en") == english
    assert describe(schedule, BERLIN, "pt_BR") == portuguese


def test_a_one_shot_is_described_in_the_chronos_wall_time():
    schedule = parse("2026-12-01T13:00:00Z", BERLIN, NOW)

    assert describe(schedule, BERLIN, "en") == "Once at 2026-12-01 14:00 (Europe/Berlin)"
    assert describe(schedule, BERLIN, "pt_BR") == "Uma vez em 01/12/2026 14:00 (Europe/Berlin)"


def test_describe_accepts_djangos_language_codes():
    schedule = parse("every 15 minutes", BERLIN, NOW)

    assert describe(schedule, BERLIN, "pt-br") == "A cada 15 minutos"


@pytest.mark.parametrize(("text", "expected"), [
    ("0 8 * * seg", "0 8 * * 1"),
    ("0 8 * * seg-sex", "0 8 * * 1-5"),
    ("0 8 * * sáb,dom", "0 8 * * 6,0"),
    ("0 8 * * mon", "0 8 * * mon"),
    ("0 8 * * mon-fri", "0 8 * * mon-fri"),
])
def test_it_reads_portuguese_and_english_weekday_names_in_a_cron_field(text, expected):
    schedule = parse(text, "America/Sao_Paulo", datetime(2026, 12, 1, tzinfo=timezone.utc))
    assert (schedule.kind, schedule.expression) == ("cron", expected)


@pytest.mark.parametrize("text", ["amanhã às 9h", "amanha as 09:00", "tomorrow at 9am", "tomorrow at 9:00"])
def test_it_reads_tomorrow_at_a_time_in_both_languages(text):
    # 23:30 in São Paulo on Dec 1 is already Dec 2 in UTC: "tomorrow" is the chrono zone's tomorrow.
    now = datetime(2026, 12, 2, 2, 30, tzinfo=timezone.utc)
    schedule = parse(text, "America/Sao_Paulo", now)
    assert schedule.kind == "once"
    assert schedule.run_at == datetime(2026, 12, 2, 12, 0, tzinfo=timezone.utc)  # 09:00 -03


# --------------------------------------------------------------------------- monthly on a day

MONTHLY_PHRASES = [
    ("todo dia 5 às 9h", "0 9 5 * *"),
    ("todo dia 5 as 9h", "0 9 5 * *"),
    ("todo dia 5 de cada mês às 9h", "0 9 5 * *"),
    ("todo mês no dia 5 às 9h", "0 9 5 * *"),
    ("mensalmente no dia 5 às 09:00", "0 9 5 * *"),
    ("todo dia 1º às 8h30", "30 8 1 * *"),
    ("todo dia 1 e 15 às 8h", "0 8 1,15 * *"),
    ("every month on the 5th at 9am", "0 9 5 * *"),
    ("monthly on the 5th at 9:00", "0 9 5 * *"),
    ("on the 5th of every month at 9am", "0 9 5 * *"),
    ("every month on the 1st, 15th and 30th at 9am", "0 9 1,15,30 * *"),
]


@pytest.mark.parametrize(("text", "expression"), spellings(MONTHLY_PHRASES))
def test_it_reads_a_day_of_every_month_as_cron_in_both_languages(text, expression):
    assert parse(text, SAO_PAULO, NOW) == Schedule("cron", expression)


def test_a_day_of_the_month_fires_on_that_day_each_month_in_the_chronos_zone():
    fires = next_fire_times(parse("todo dia 5 às 9h", SAO_PAULO, NOW), SAO_PAULO, NOW, n=2)

    assert fires == [utc(2026, 7, 5, 12, 0), utc(2026, 8, 5, 12, 0)]


def test_a_day_of_the_month_is_described_in_both_languages():
    schedule = parse("every month on the 5th at 9am", SAO_PAULO, NOW)

    assert describe(schedule, SAO_PAULO, "en") == "At 09:00 AM, on day 5 of the month (America/Sao_Paulo)"
    assert describe(schedule, SAO_PAULO, "pt_BR") == "Às 09:00, no dia 5 do mês (America/Sao_Paulo)"


@pytest.mark.parametrize("text", ["todo dia 32 às 9h", "todo dia 0 às 9h", "every month on the 32nd at 9am"])
def test_it_refuses_a_day_of_the_month_outside_1_to_31(text):
    with pytest.raises(ScheduleError, match="between 1 and 31"):
        parse(text, SAO_PAULO, NOW)


@pytest.mark.parametrize("text", ["todo dia 5", "every month on the 5th"])
def test_a_day_of_the_month_without_a_time_is_refused_asking_for_a_time(text):
    with pytest.raises(ScheduleError, match="needs a time of day"):
        parse(text, SAO_PAULO, NOW)


# --------------------------------------------------------------------------- several weekdays

SEVERAL_WEEKDAYS = [
    ("toda segunda e quarta às 9h", "0 9 * * 1,3"),
    ("toda segunda e quarta as 9h", "0 9 * * 1,3"),
    ("segunda, quarta e sexta às 9h", "0 9 * * 1,3,5"),
    ("toda segunda, quarta e sexta-feira às 9h", "0 9 * * 1,3,5"),
    ("toda segunda-feira e quarta-feira às 9h", "0 9 * * 1,3"),
    ("toda segunda e toda quarta às 9h", "0 9 * * 1,3"),
    ("aos sábados e domingos às 10h", "0 10 * * 0,6"),
    ("toda terça e quinta às 18:00", "0 18 * * 2,4"),
    ("every monday and wednesday at 9am", "0 9 * * 1,3"),
    ("every monday, wednesday and friday at 9am", "0 9 * * 1,3,5"),
    ("every monday, wednesday, and friday at 9am", "0 9 * * 1,3,5"),
    ("mondays and wednesdays at 9", "0 9 * * 1,3"),
    ("every sat and sun at 10:00", "0 10 * * 0,6"),
]


@pytest.mark.parametrize(("text", "expression"), spellings(SEVERAL_WEEKDAYS))
def test_it_reads_several_weekdays_as_one_cron_in_both_languages(text, expression):
    assert parse(text, SAO_PAULO, NOW) == Schedule("cron", expression)


def test_several_weekdays_fire_on_each_of_them_only():
    monday_noon = utc(2026, 6, 15, 15, 0)  # 12:00 in São Paulo, after Monday's 09:00

    fires = next_fire_times(parse("toda segunda e quarta às 9h", SAO_PAULO, NOW), SAO_PAULO, monday_noon, n=3)

    assert fires == [utc(2026, 6, 17, 12, 0), utc(2026, 6, 22, 12, 0), utc(2026, 6, 24, 12, 0)]


def test_several_weekdays_are_described_without_a_serial_comma_in_portuguese():
    schedule = parse("segunda, quarta e sexta às 9h", SAO_PAULO, NOW)

    assert describe(schedule, SAO_PAULO, "en") == \
        "At 09:00 AM, only on Monday, Wednesday, and Friday (America/Sao_Paulo)"
    assert describe(schedule, SAO_PAULO, "pt_BR") == \
        "Às 09:00, às segundas-feiras, quartas-feiras e sextas-feiras (America/Sao_Paulo)"


# --------------------------------------------------------------------------- parts of the day, am/pm

PARTS_OF_THE_DAY = [
    ("todo dia às 8 da manhã", "0 8 * * *"),
    ("todo dia as 8 da manha", "0 8 * * *"),
    ("todo dia às 3 da manhã", "0 3 * * *"),
    ("todo dia às 11h30 da manhã", "30 11 * * *"),
    ("todo dia às 7 horas da manhã", "0 7 * * *"),
    ("todo dia às 3 da tarde", "0 15 * * *"),
    ("todo dia às 12 da tarde", "0 12 * * *"),
    ("todo dia às 6 da tarde", "0 18 * * *"),
    ("todo dia às 15 da tarde", "0 15 * * *"),
    ("todo dia às 8 da noite", "0 20 * * *"),
    ("todo dia às 8:30 da noite", "30 20 * * *"),
    ("todo dia às 12 da noite", "0 0 * * *"),
    ("todo dia às 2 da madrugada", "0 2 * * *"),
    ("todo dia ao meio-dia", "0 12 * * *"),
    ("todo dia à meia-noite", "0 0 * * *"),
    ("toda segunda às 3 da tarde", "0 15 * * 1"),
    ("every day at 8am", "0 8 * * *"),
    ("every day at 3pm", "0 15 * * *"),
    ("every day at 3:15 p.m.", "15 15 * * *"),
    ("every day at 12am", "0 0 * * *"),
    ("every day at 12:30am", "30 0 * * *"),
    ("every day at 12pm", "0 12 * * *"),
    ("every day at 12:30 pm", "30 12 * * *"),
    ("every day at noon", "0 12 * * *"),
    ("every day at midnight", "0 0 * * *"),
    ("every day at 8 in the morning", "0 8 * * *"),
    ("every day at 3 in the afternoon", "0 15 * * *"),
    ("every day at 8 in the evening", "0 20 * * *"),
    ("every day at 11 at night", "0 23 * * *"),
]


@pytest.mark.parametrize(("text", "expression"), spellings(PARTS_OF_THE_DAY))
def test_it_reads_parts_of_the_day_and_am_pm_as_24_hour_times(text, expression):
    assert parse(text, SAO_PAULO, NOW) == Schedule("cron", expression)


def test_tomorrow_at_a_part_of_the_day_is_that_hour_tomorrow():
    schedule = parse("amanhã às 3 da tarde", SAO_PAULO, NOW)

    assert schedule.run_at == utc(2026, 6, 16, 18, 0)  # 15:00 -03


@pytest.mark.parametrize("text", [
    "todo dia às 11 da tarde", "todo dia às 9 da madrugada", "todo dia às 12 da manhã",
    "todo dia às 2 da noite", "every day at 8 in the afternoon",
])
def test_it_refuses_an_hour_outside_the_part_of_the_day_it_names(text):
    with pytest.raises(ScheduleError, match="out of range for"):
        parse(text, SAO_PAULO, NOW)


@pytest.mark.parametrize("text", ["every day at 0am", "every day at 13pm", "every day at 00:30am"])
def test_it_refuses_am_or_pm_after_an_hour_outside_1_to_12(text):
    with pytest.raises(ScheduleError, match="out of range with"):
        parse(text, SAO_PAULO, NOW)


def test_it_refuses_am_pm_together_with_a_part_of_the_day():
    with pytest.raises(ScheduleError, match="not both"):
        parse("todo dia às 8pm da noite", SAO_PAULO, NOW)


# --------------------------------------------------------------------------- the old system's 6-field cron

@pytest.mark.parametrize(("text", "expression"), [
    ("0 0 8 * * *", "0 8 * * *"),
    ("00 30 7 * * 1-5", "30 7 * * 1-5"),
    ("0 0 8 * * seg", "0 8 * * 1"),
    ("0 */15 * * * *", "*/15 * * * *"),
])
def test_a_six_field_cron_with_seconds_zero_becomes_its_five_fields(text, expression):
    assert parse(text, BERLIN, NOW) == Schedule("cron", expression)


def test_a_converted_six_field_cron_says_so_in_its_description():
    schedule = parse("0 0 8 * * *", BERLIN, NOW)

    assert describe(schedule, BERLIN, "en", typed="0 0 8 * * *") == (
        "At 08:00 AM (Europe/Berlin) — converted from the 6-field cron '0 0 8 * * *' "
        "(seconds first, as in the old system) to '0 8 * * *'")
    assert describe(schedule, BERLIN, "pt_BR", typed="0 0 8 * * *") == (
        "Às 08:00 (Europe/Berlin) — convertido do cron de 6 campos '0 0 8 * * *' "
        "(segundos primeiro, como no sistema antigo) para '0 8 * * *'")


def test_a_five_field_cron_has_no_conversion_note():
    schedule = parse("0 8 * * *", BERLIN, NOW)

    assert describe(schedule, BERLIN, "en", typed="0 8 * * *") == "At 08:00 AM (Europe/Berlin)"


@pytest.mark.parametrize(("text", "equivalent"), [
    ("30 0 8 * * *", "'0 8 * * *'"),
    ("*/10 * * * * *", "'* * * * *'"),
    ("15 30 7 * * 1-5", "'30 7 * * 1-5'"),
])
def test_a_six_field_cron_with_seconds_other_than_zero_is_refused_naming_its_five_field_equivalent(
        text, equivalent):
    with pytest.raises(ScheduleError) as refusal:
        parse(text, BERLIN, NOW)

    assert f"the 5-field equivalent is {equivalent}" in refusal.value.problem


# --------------------------------------------------------------------------- hour intervals on the hour

CREATED = utc(2026, 6, 15, 13, 17, 42)  # 10:17:42 in São Paulo


@pytest.mark.parametrize("text", spellings([("a cada 2 horas",), ("every 2 hours",), ("2h",), ("120 min",)]))
def test_an_interval_of_hours_dividing_24_fires_on_the_hour_from_midnight_in_the_chronos_zone(text):
    fires = next_fire_times(parse(text, SAO_PAULO, CREATED), SAO_PAULO, CREATED, n=3, anchor=CREATED)

    # 12:00, 14:00, 16:00 in São Paulo (UTC-3), not 12:17:42, 14:17:42, ...
    assert fires == [utc(2026, 6, 15, 15, 0), utc(2026, 6, 15, 17, 0), utc(2026, 6, 15, 19, 0)]


@pytest.mark.parametrize(("text", "first"), [
    ("a cada 3 horas", utc(2026, 6, 15, 15, 0)),   # 12:00 -03
    ("every 6 hours", utc(2026, 6, 15, 15, 0)),    # 12:00 -03
    ("a cada 8 horas", utc(2026, 6, 15, 19, 0)),   # 16:00 -03
    ("every 12 hours", utc(2026, 6, 15, 15, 0)),   # 12:00 -03
    ("a cada 1 hora", utc(2026, 6, 15, 14, 0)),    # 11:00 -03
])
def test_each_hour_interval_dividing_24_starts_from_midnight_of_the_chronos_zone(text, first):
    fires = next_fire_times(parse(text, SAO_PAULO, CREATED), SAO_PAULO, CREATED, n=1, anchor=CREATED)

    assert fires == [first]


def test_an_aligned_hour_interval_keeps_its_kind_and_seconds():
    assert parse("a cada 2 horas", SAO_PAULO, CREATED) == Schedule("interval", "7200")


def test_an_hour_interval_that_does_not_divide_24_still_counts_from_its_anchor():
    fires = next_fire_times(parse("a cada 5 horas", SAO_PAULO, CREATED), SAO_PAULO, CREATED, n=1, anchor=CREATED)

    assert fires == [CREATED + timedelta(hours=5)]


def test_a_one_day_interval_still_counts_from_its_anchor():
    fires = next_fire_times(parse("1 d", SAO_PAULO, CREATED), SAO_PAULO, CREATED, n=1, anchor=CREATED)

    assert fires == [CREATED + timedelta(days=1)]


def test_an_aligned_hour_interval_has_a_previous_fire_time_without_an_anchor():
    schedule = parse("a cada 2 horas", SAO_PAULO, CREATED)

    assert previous_fire_time(schedule, SAO_PAULO, CREATED) == utc(2026, 6, 15, 13, 0)  # 10:00 -03


def test_an_aligned_hour_interval_follows_wall_time_across_a_dst_change():
    fires = next_fire_times(parse("every 2 hours", BERLIN, NOW), BERLIN, utc(2026, 3, 28, 22, 30), n=3)

    # 00:00 CET, then 02:00 does not exist that night, 04:00 CEST, 06:00 CEST.
    assert fires == [utc(2026, 3, 28, 23, 0), utc(2026, 3, 29, 2, 0), utc(2026, 3, 29, 4, 0)]


@pytest.mark.parametrize(("text", "english", "portuguese"), [
    ("a cada 2 horas",
     "Every 2 hours, on the hour from midnight (00:00, 02:00, 04:00, …) (America/Sao_Paulo)",
     "A cada 2 horas, na hora cheia a partir da meia-noite (00:00, 02:00, 04:00, …) (America/Sao_Paulo)"),
    ("every 12 hours",
     "Every 12 hours, on the hour from midnight (00:00, 12:00) (America/Sao_Paulo)",
     "A cada 12 horas, na hora cheia a partir da meia-noite (00:00, 12:00) (America/Sao_Paulo)"),
    ("every 1 hour", "Every hour, on the hour (America/Sao_Paulo)", "A cada hora, na hora cheia (America/Sao_Paulo)"),
])
def test_an_aligned_hour_interval_says_so_in_its_description(text, english, portuguese):
    schedule = parse(text, SAO_PAULO, NOW)

    assert describe(schedule, SAO_PAULO, "en") == english
    assert describe(schedule, SAO_PAULO, "pt_BR") == portuguese


# --------------------------------------------------------------------------- DST gap notes

NEW_YORK = "America/New_York"  # 2026-03-08 02:00 EST -> 03:00 EDT (07:00 UTC); São Paulo has no DST now
BEFORE_THE_GAP = utc(2026, 3, 7, 12, 0)


def test_a_fire_time_a_dst_gap_moved_carries_a_note_in_both_languages():
    schedule = parse("30 2 * * *", NEW_YORK, BEFORE_THE_GAP)
    moved = next_fire_times(schedule, NEW_YORK, BEFORE_THE_GAP, n=1)[0]

    assert moved == utc(2026, 3, 8, 7, 0)
    assert gap_note(schedule, NEW_YORK, moved, "en") == (
        "02:30 does not exist on 2026-03-08 in America/New_York (clocks jump from 02:00 to 03:00 for DST): "
        "runs at 03:00 instead")
    assert gap_note(schedule, NEW_YORK, moved, "pt_BR") == (
        "02:30 não existe em 08/03/2026 em America/New_York (o relógio pula de 02:00 para 03:00, "
        "horário de verão): executa às 03:00")


def test_a_fire_time_at_its_own_wall_time_has_no_note():
    schedule = parse("30 2 * * *", NEW_YORK, BEFORE_THE_GAP)
    next_day = next_fire_times(schedule, NEW_YORK, BEFORE_THE_GAP, n=2)[1]

    assert gap_note(schedule, NEW_YORK, next_day) is None


def test_a_time_that_is_the_end_of_the_gap_itself_has_no_note():
    schedule = parse("0 3 * * *", NEW_YORK, BEFORE_THE_GAP)

    assert gap_note(schedule, NEW_YORK, utc(2026, 3, 8, 7, 0)) is None


@pytest.mark.parametrize("text", ["0 * * * *", "*/15 * * * *", "every 15 minutes", "a cada 2 horas"])
def test_schedules_that_skip_missing_wall_times_have_no_gap_notes(text):
    schedule = parse(text, NEW_YORK, BEFORE_THE_GAP)
    fires = next_fire_times(schedule, NEW_YORK, utc(2026, 3, 8, 5, 0), n=6, anchor=utc(2026, 3, 8, 5, 0))

    assert [gap_note(schedule, NEW_YORK, fire) for fire in fires] == [None] * 6


@pytest.mark.parametrize(("expression", "words"), [
    ("0 8 * * 6", "Às 08:00, aos sábados"),
    ("0 8 * * 5,6", "Às 08:00, às sextas-feiras e aos sábados"),
    ("0 8 * * 2,4", "Às 08:00, às terças-feiras e quintas-feiras"),
    ("0 8 * 12 1", "Às 08:00, às segundas-feiras, somente em dezembro"),  # months keep "somente em"
])
def test_weekdays_read_as_brazilians_say_them(expression, words):
    from automations import schedule_words

    assert schedule_words.cron(expression, True) == words
