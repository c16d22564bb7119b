"""A governed send keeps the quiet hours of where its contact lives (signals.recipient_timezone)."""

from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
import time_machine
from django.utils import timezone

from contacts.models import Contact
from whatsapp import outbox
from whatsapp.models import Channel, Message

pytestmark = pytest.mark.django_db

# 08:30 in São Paulo (UTC-3, the chrono's zone), still 07:30 in Manaus (UTC-4): a Wednesday.
START = datetime(2026, 3, 4, 11, 30, tzinfo=dt_timezone.utc)
MANAUS_OPENS = datetime(2026, 3, 4, 12, 0, tzinfo=dt_timezone.utc)  # 08:00 in Manaus
UNPACED = {"per_minute": 0, "per_hour": 0, "per_day": 0, "new_per_hour": 0, "new_per_day": 0, "min_gap_s": 0,
           "new_min_gap_s": 0, "jitter_s": 0, "typing_max_s": 0, "window_start": "08:00", "window_end": "20:00",
           "window_days": "1234567"}
MANAUS_CHAT = "5592988887777@c.us"


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def governed(channel: Channel) -> Channel:
    channel.send_profile, channel.send_limits = "fast", UNPACED
    channel.save(update_fields=["send_profile", "send_limits"])
    return channel


def send_when_due(channel: Channel, clock) -> Message:
    """Run the outbox on the simulated clock until the one queued message has gone."""
    for _ in range(20):
        wake = outbox.drain(channel, timezone.now())
        if wake is None:
            break
        clock.move_to(max(wake, timezone.now() + timedelta(milliseconds=1)))
    return Message.objects.get(direction="out")


def test_a_contact_in_manaus_gets_its_message_when_the_window_opens_in_manaus(governed, waha, clock):
    Contact.objects.create(phone="5592988887777", chat_id=MANAUS_CHAT, timezone="America/Manaus")

    queued = governed.send_and_record(MANAUS_CHAT, "Bom dia!", zone="America/Sao_Paulo")
    sent = send_when_due(governed, clock)

    assert queued.send_zone == "America/Manaus"
    assert (sent.status, sent.timestamp) == ("sent", MANAUS_OPENS)
    assert [m["chatId"] for m in waha.sent] == [MANAUS_CHAT]


def test_a_contact_without_a_time_zone_keeps_the_chronos_window(governed, waha, clock):
    Contact.objects.create(phone="5592988887777", chat_id=MANAUS_CHAT)

    queued = governed.send_and_record(MANAUS_CHAT, "Bom dia!", zone="America/Sao_Paulo")
    sent = send_when_due(governed, clock)

    assert queued.send_zone == "America/Sao_Paulo"
    assert (sent.status, sent.timestamp) == ("sent", START)  # already 08:30 in São Paulo


def test_a_stored_zone_nobody_knows_falls_back_to_the_chronos_and_the_outbox_still_sends(governed, waha, clock):
    contact = Contact.objects.create(phone="5592988887777", chat_id=MANAUS_CHAT)
    Contact.objects.filter(pk=contact.pk).update(timezone="America/Atlantis")  # past the form's validation

    queued = governed.send_and_record(MANAUS_CHAT, "Bom dia!", zone="America/Sao_Paulo")

    assert queued.send_zone == "America/Sao_Paulo"
    assert send_when_due(governed, clock).status == "sent"
