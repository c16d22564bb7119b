"""A governed channel's outbox (whatsapp/outbox.py) against the fake WAHA, on a simulated clock."""

from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from whatsapp import outbox
from whatsapp.models import Channel, Message, MonitorAction
from whatsapp.monitor import check_sessions

START = datetime(2026, 3, 4, 15, 0, tzinfo=dt_timezone.utc)  # a Wednesday
TEXT = "Olá! Sua consulta é amanhã às 10h. Responda 1 para confirmar."
UNPACED = {"per_minute": 0, "per_hour": 0, "per_day": 0, "new_per_hour": 0, "new_per_day": 0, "window_start": ""}
LOCK_500 = {"statusCode": 500, "timestamp": "2026-03-04T15:00:00.000Z",
            "exception": {"message": "server returned error 463", "name": "Error"},
            "request": {"path": "/api/sendText", "method": "POST"}, "version": {"version": "2026.7.1"}}


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def governed(make_channel, waha, clock):
    """A channel on the 'fast' profile, 10 sends a minute; limits= overrides more."""
    waha.add_session("front", status="WORKING")

    def make(**limits) -> Channel:
        return make_channel(send_profile="fast", send_limits={"per_minute": 10, "window_start": "", **limits})

    return make


def chat(n: int) -> str:
    return f"55119{n:08d}@c.us"


def drain_all(channel: Channel, clock, until: timedelta = timedelta(days=3)) -> None:
    """Let the outbox run on the simulated clock until nothing is due (or ``until`` passed)."""
    end = timezone.now() + until
    while timezone.now() < end:
        wake = outbox.drain(channel, timezone.now())
        if wake is None or wake > end:
            return
        clock.move_to(max(wake, timezone.now() + timedelta(milliseconds=1)))


def inbound(channel: Channel, chat_id: str, waha_id: str) -> Message:
    return Message.objects.create(channel=channel, direction="in", chat_id=chat_id, sender=chat_id, text="Oi",
                                  waha_message_id=waha_id, status="received")


def sent_rows(channel: Channel) -> list[Message]:
    return list(Message.objects.filter(channel=channel, direction="out", status="sent").order_by("timestamp", "pk"))


def chatting(waha) -> list[tuple[str, str]]:
    paths = ("/api/sendSeen", "/api/startTyping", "/api/stopTyping", "/api/sendText")
    return [(path.rsplit("/", 1)[1], body["chatId"]) for method, path, body in waha.requests if path in paths]


def test_a_governed_send_is_queued_not_sent(governed, waha):
    message = governed().send_and_record(chat(1), TEXT)

    assert message.status == "queued" and message.not_before == START
    assert waha.calls("POST", "/api/sendText") == []


def test_a_hundred_first_contacts_under_ten_a_minute_take_at_least_ten_simulated_minutes(governed, waha, clock):
    channel = governed()
    for n in range(100):
        channel.send_and_record(chat(n), TEXT)

    drain_all(channel, clock)

    times = [m.timestamp for m in sent_rows(channel)]
    assert len(times) == 100 and len(waha.sent) == 100
    assert times[-1] - START >= timedelta(minutes=10)
    assert all(sum(t - 60 < s <= t for s in [x.timestamp() for x in times]) <= 10 for t in [x.timestamp() for x in times])


def test_the_gaps_between_first_contacts_vary_within_the_jitter(governed, waha, clock):
    channel = governed(per_minute=0)  # the gap alone paces: new_min_gap_s 4 + 0..4 s jitter, then typing
    for n in range(30):
        channel.send_and_record(chat(n), TEXT)

    drain_all(channel, clock)

    times = [m.timestamp for m in sent_rows(channel)]
    typing_s = min(4.0, max(0.5, len(TEXT) * 0.02))
    gaps = [(b - a).total_seconds() - typing_s for a, b in zip(times, times[1:])]
    assert all(4 - 1e-6 <= gap <= 8 + 1e-6 for gap in gaps)
    assert max(gaps) - min(gaps) > 2 and len({round(g, 3) for g in gaps}) > 20


def test_each_send_is_preceded_by_typing_and_by_seen_when_answering(governed, waha, clock):
    channel = governed()
    inbound(channel, chat(1), "false_5511900000001@c.us_AAA")
    channel.send_and_record(chat(1), "Resposta")
    channel.send_and_record(chat(2), TEXT)

    drain_all(channel, clock)

    assert chatting(waha) == [("sendSeen", chat(1)), ("startTyping", chat(1)), ("stopTyping", chat(1)),
                              ("sendText", chat(1)), ("startTyping", chat(2)), ("stopTyping", chat(2)),
                              ("sendText", chat(2))]
    assert waha.calls("POST", "/api/sendSeen")[0]["messageIds"] == ["false_5511900000001@c.us_AAA"]


def test_the_typing_wait_holds_no_worker_it_is_a_row_that_waits(governed, waha, clock):
    channel = governed()
    message = channel.send_and_record(chat(1), TEXT)

    wake = outbox.drain(channel, timezone.now())

    message.refresh_from_db()
    assert message.status == "queued" and message.typing_until == wake > START
    assert waha.calls("POST", "/api/startTyping") and not waha.calls("POST", "/api/sendText")


def test_a_reply_jumps_a_queue_of_fifty_campaign_sends(governed, waha, clock):
    channel = governed()
    for n in range(50):
        channel.send_and_record(chat(n), TEXT)
    outbox.drain(channel, timezone.now())  # the first campaign send is typing already
    clock.move_to(START + timedelta(seconds=1))
    inbound(channel, chat(99), "false_5511900000099@c.us_BBB")
    reply = channel.send_and_record(chat(99), "Claro, confirmado!")

    drain_all(channel, clock, until=timedelta(minutes=1))

    order = [m.chat_id for m in sent_rows(channel)]
    assert reply.priority < Message.objects.get(chat_id=chat(5)).priority
    assert order[:2] == [chat(0), chat(99)]


def test_a_first_contact_due_at_21h_goes_at_8h_on_the_next_weekday_across_a_dst_change(governed, waha, clock):
    new_york = ZoneInfo("America/New_York")
    clock.move_to(datetime(2026, 3, 6, 21, 0, tzinfo=new_york))  # Friday; DST starts Sunday 8 March
    channel = governed(window_start="08:00", window_end="20:00", window_days="12345")

    channel.send_and_record(chat(1), TEXT, zone="America/New_York")
    drain_all(channel, clock)

    [sent] = sent_rows(channel)
    typing_start = sent.timestamp - timedelta(seconds=min(4.0, max(0.5, len(TEXT) * 0.02)))
    assert typing_start.astimezone(new_york).replace(tzinfo=None) == datetime(2026, 3, 9, 8, 0)
    assert typing_start == datetime(2026, 3, 9, 12, 0, tzinfo=dt_timezone.utc)  # EDT, UTC-4 since Sunday


def test_a_463_pauses_outreach_alerts_once_leaves_the_session_alone_and_replies_still_go(
        governed, waha, clock, settings):
    settings.ADMINS = [("Operador", "ops@example.org")]
    channel = governed(cooldown_h=0)  # resumed by hand only
    # WhatsApp's lock refuses new contacts; a chat where the contact wrote still works.
    waha.fail("POST", "/api/sendText", status=500, body=LOCK_500, times=5, when=lambda body: body["chatId"] != chat(7))
    for n in range(3):
        channel.send_and_record(chat(n), TEXT)
    drain_all(channel, clock, until=timedelta(minutes=5))
    inbound(channel, chat(7), "false_5511900000007@c.us_CCC")
    reply = channel.send_and_record(chat(7), "Oi! Já te respondo.")
    drain_all(channel, clock, until=timedelta(minutes=5))
    check_sessions()

    channel.refresh_from_db()
    reply.refresh_from_db()
    assert channel.outreach_paused and "463" in channel.outreach_paused_reason
    assert len(mail.outbox) == 1 and "outreach paused" in mail.outbox[0].subject
    assert reply.status == "sent"
    assert Message.objects.filter(chat_id=chat(0)).get().status == "queued"  # waits for the resume
    assert not MonitorAction.objects.filter(action__in=["restarted", "started", "recreated"]).exists()
    assert not [p for _, p, _ in waha.requests if p.endswith(("/restart", "/logout", "/stop", "/start"))]


def test_outreach_resumed_by_hand_sends_the_first_contacts_that_waited(governed, waha, clock):
    channel = governed(cooldown_h=0)
    waha.fail("POST", "/api/sendText", status=500, body=LOCK_500)
    channel.send_and_record(chat(1), TEXT)
    drain_all(channel, clock, until=timedelta(minutes=5))

    channel.resume_outreach()
    drain_all(channel, clock, until=timedelta(minutes=5))

    assert [m["chatId"] for m in waha.sent] == [chat(1)]
    assert Message.objects.get(chat_id=chat(1)).status == "sent"


def test_outreach_resumes_on_its_own_after_the_operator_s_cool_down(governed, waha, clock):
    channel = governed(cooldown_h=2)
    waha.fail("POST", "/api/sendText", status=500, body=LOCK_500)
    channel.send_and_record(chat(1), TEXT)

    drain_all(channel, clock)

    [sent] = sent_rows(channel)
    assert sent.timestamp >= START + timedelta(hours=2)
    channel.refresh_from_db()
    assert not channel.outreach_paused


def test_failed_sends_in_a_row_pause_outreach(governed, waha, clock):
    channel = governed(pause_after_failures=3)
    waha.fail("POST", "/api/sendText", status=503, times=3)
    for n in range(5):
        channel.send_and_record(chat(n), TEXT)

    drain_all(channel, clock, until=timedelta(minutes=5))

    channel.refresh_from_db()
    assert channel.outreach_paused and "3 sends failed in a row" in channel.outreach_paused_reason
    assert Message.objects.filter(status="failed").count() == 3 and waha.sent == []


def test_a_worker_killed_while_typing_sends_the_message_exactly_once_after_restart(governed, waha, clock):
    channel = governed()
    channel.send_and_record(chat(1), TEXT)
    wake = outbox.drain(channel, timezone.now())  # typing started, then the worker died
    clock.move_to(wake + timedelta(minutes=30))

    for _ in range(3):  # the restarted worker, the periodic pump, a late duplicate task
        outbox.drain(Channel.objects.get(pk=channel.pk), timezone.now())

    assert [m["chatId"] for m in waha.sent] == [chat(1)]


def test_a_worker_killed_mid_send_leaves_the_message_unconfirmed_never_resent(governed, waha, clock):
    channel = governed()
    message = channel.send_and_record(chat(1), TEXT)
    Message.objects.filter(pk=message.pk).update(status="sending")  # died between claim and answer
    clock.move_to(START + timedelta(minutes=15))

    drain_all(channel, clock)

    message.refresh_from_db()
    assert message.status == "unconfirmed" and waha.sent == []


def test_the_outbox_status_shows_sends_budget_queue_and_next_send(governed, waha, clock):
    channel = governed(per_day=50)
    for n in range(3):
        channel.send_and_record(chat(n), TEXT)
    drain_all(channel, clock, until=timedelta(seconds=3))

    state = outbox.status(channel)

    assert (state["sent_24h"], state["budget_left_24h"], state["queued"]) == (1, 49, 2)
    assert state["next_send_at"] is not None and state["paused_because"] == ""


def test_a_channel_without_a_profile_still_sends_at_once(make_channel, waha):
    waha.add_session("front", status="WORKING")

    message = make_channel().send_and_record(chat(1), TEXT)

    assert message.status == "sent" and waha.calls("POST", "/api/startTyping") == []
