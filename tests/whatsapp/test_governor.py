"""The governor's pure decisions (whatsapp/governor.py): rates, gaps, warm-up, typing, windows."""

from datetime import datetime, timedelta, timezone

import pytest

from whatsapp import governor
from whatsapp.governor import Limits, Sent

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=timezone.utc)  # a Wednesday, 09:00 in São Paulo


def test_a_channel_without_a_profile_is_not_governed():
    assert governor.limits_for("") is None


def test_a_profile_is_the_default_and_overrides_win():
    limits = governor.limits_for("careful", {"per_minute": "7"})

    assert limits.per_minute == 7 and limits.new_min_gap_s == governor.PROFILES["careful"].new_min_gap_s


@pytest.mark.parametrize("overrides, key", [({"per_mnute": 1}, "per_mnute"), ({"per_minute": -1}, "per_minute"),
                                            ({"window_start": "8h"}, "window_start"), ({"jitter_s": "x"}, "jitter_s")])
def test_it_refuses_an_override_naming_the_key(overrides, key):
    with pytest.raises(governor.BadLimits, match=key):
        governor.limits_for("normal", overrides)


def test_it_refuses_an_unknown_profile():
    with pytest.raises(governor.BadLimits, match="send_profile"):
        governor.limits_for("reckless")


def test_the_first_send_may_go_at_once():
    assert governor.earliest(Limits(per_minute=1, min_gap_s=30), [], NOW, new=True, jitter=0.5) == NOW


def test_a_full_minute_waits_until_its_oldest_send_leaves_the_window():
    history = [Sent(NOW - timedelta(seconds=s)) for s in (50, 30, 10)]

    assert governor.earliest(Limits(per_minute=3), history, NOW, new=False, jitter=0) == NOW + timedelta(seconds=10)


def test_the_gap_to_a_new_contact_is_longer_and_grows_with_the_jitter():
    limits = Limits(min_gap_s=5, new_min_gap_s=30, jitter_s=20)
    history = [Sent(NOW)]

    assert governor.earliest(limits, history, NOW, new=False, jitter=0) == NOW + timedelta(seconds=5)
    assert governor.earliest(limits, history, NOW, new=True, jitter=0) == NOW + timedelta(seconds=30)
    assert governor.earliest(limits, history, NOW, new=True, jitter=0.5) == NOW + timedelta(seconds=40)


def test_first_contacts_have_their_own_smaller_budget_and_replies_do_not_use_it():
    limits = Limits(per_hour=100, new_per_hour=2)
    history = [Sent(NOW - timedelta(minutes=20), new=True), Sent(NOW - timedelta(minutes=10), new=True)]

    assert governor.earliest(limits, history, NOW, new=True, jitter=0) == NOW + timedelta(minutes=40)
    assert governor.earliest(limits, history, NOW, new=False, jitter=0) == NOW


def test_a_new_number_s_daily_cap_grows_over_its_first_days():
    caps = [governor.daily_cap(100, age, warmup_days=10) for age in (0, 4.5, 9, 30)]

    assert caps == [10, 50, 100, 100]


def test_warm_up_holds_a_young_number_to_its_smaller_cap():
    limits = Limits(per_day=100, warmup_days=10)
    history = [Sent(NOW - timedelta(hours=h)) for h in range(1, 11)]  # 10 sends today

    assert governor.earliest(limits, history, NOW, new=False, jitter=0, age_days=0) > NOW
    assert governor.earliest(limits, history, NOW, new=False, jitter=0, age_days=20) == NOW


def test_typing_grows_with_the_text_and_is_capped():
    limits = Limits(typing_s_per_char=0.1, typing_min_s=1, typing_max_s=5)

    assert [governor.typing_seconds(limits, "x" * n) for n in (1, 30, 500)] == [1, 3, 5]


def test_a_send_inside_the_window_goes_when_due():
    limits = Limits(window_start="08:00", window_end="20:00", window_days="12345")

    assert governor.in_window(limits, NOW, "America/Sao_Paulo") == NOW


def test_a_send_due_on_friday_night_waits_for_monday_morning_in_the_recipient_s_zone():
    limits = Limits(window_start="08:00", window_end="20:00", window_days="12345")
    friday_21h = datetime(2026, 3, 6, 21, 0, tzinfo=governor.ZoneInfo("Europe/Lisbon"))

    opened = governor.in_window(limits, friday_21h.astimezone(timezone.utc), "Europe/Lisbon")

    assert opened.astimezone(governor.ZoneInfo("Europe/Lisbon")).replace(tzinfo=None) == datetime(2026, 3, 9, 8, 0)


def test_a_paused_channel_gives_new_contacts_no_slot_but_replies_one():
    limits = Limits()

    assert governor.next_slot(limits, [], NOW, new=True, jitter=0, zone="UTC", paused=True) is None
    assert governor.next_slot(limits, [], NOW, new=False, jitter=0, zone="UTC", paused=True) == NOW


def test_a_cool_down_gives_new_contacts_the_slot_when_it_ends():
    until = NOW + timedelta(hours=6)

    assert governor.next_slot(Limits(), [], NOW, new=True, jitter=0, zone="UTC", paused=True,
                              paused_until=until) == until


def test_a_channel_refuses_limits_that_make_no_sense_naming_the_field(make_channel):
    from django.core.exceptions import ValidationError

    channel = make_channel(send_profile="careful", send_limits={"per_minute": "lots"})

    with pytest.raises(ValidationError) as raised:
        channel.full_clean()
    assert "send_limits" in raised.value.message_dict
