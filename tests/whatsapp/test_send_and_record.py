"""Channel.send_and_record: the one place that keeps a WhatsApp user from getting a message twice."""

import pytest
import requests

from whatsapp.models import AlreadyMessaged, Message, SendFailed

CHAT = "5511911111111@c.us"


@pytest.fixture
def channel(make_channel, waha):
    waha.add_session("front", status="WORKING")
    return make_channel(status="WORKING")


@pytest.fixture
def run(channel, make_message_chrono, make_run):
    return make_run(make_message_chrono(channel))


def test_it_records_the_sent_message_with_waha_s_id(channel, waha):
    message = channel.send_and_record(CHAT, "Olá", recipient="+55 11 91111-1111")

    assert (message.status, message.direction, message.recipient) == ("sent", "out", "+55 11 91111-1111")
    assert message.waha_message_id == waha.sent[0]["id"]


def test_a_second_send_to_the_same_chat_in_one_run_is_refused_without_calling_waha(channel, run, waha):
    channel.send_and_record(CHAT, "Olá", run=run)

    with pytest.raises(AlreadyMessaged):
        channel.send_and_record(CHAT, "Olá de novo", run=run)

    assert [m["text"] for m in waha.sent] == ["Olá"]


def test_resuming_a_run_returns_the_sent_row_without_sending_again(channel, run, waha):
    first = channel.send_and_record(CHAT, "Olá", run=run)

    again = channel.send_and_record(CHAT, "Olá", run=run, resume=True)

    assert again.pk == first.pk and again.status == "sent"
    assert len(waha.sent) == 1


def test_a_send_waha_may_have_done_is_unconfirmed_and_never_resent(channel, run, waha):
    waha.fail("POST", "/api/sendText", exception=requests.exceptions.ReadTimeout("read timed out"))
    with pytest.raises(SendFailed) as raised:
        channel.send_and_record(CHAT, "Olá", run=run, resume=True)
    assert raised.value.row.status == "unconfirmed"

    channel.send_and_record(CHAT, "Olá", run=run, resume=True)

    assert len(waha.calls("POST", "/api/sendText")) == 1
    assert Message.objects.get(run=run).status == "unconfirmed"


def test_resuming_sends_again_a_message_waha_refused(channel, run, waha):
    waha.fail("POST", "/api/sendText", status=503)
    with pytest.raises(SendFailed) as raised:
        channel.send_and_record(CHAT, "Olá", run=run, resume=True)
    assert raised.value.row.status == "failed"

    message = channel.send_and_record(CHAT, "Olá", run=run, resume=True)

    assert message.status == "sent" and message.error == ""
    assert [m["chatId"] for m in waha.sent] == [CHAT]
