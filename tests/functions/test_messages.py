"""ctx.message.send through a fake WAHA on 127.0.0.1 (checked against WAHA's spec)."""

import pytest

from automations.models import Chrono, ChronoRun
from functions.messaging import recipient_allowed
from tests.whatsapp.fake_waha import API_KEY, FakeWahaServer
from whatsapp.models import Channel, Message

SEND_TWO = ("def run(ctx):\n"
            "    ctx.message.send({'to': '+55 11 99999-0001', 'text': 'Olá Ana'})\n"
            "    ctx.message.send({'to': '5511999990002', 'text': 'Olá Bia'})\n")


@pytest.fixture
def waha(settings):
    with FakeWahaServer() as server:
        settings.WAHA_BASE_URL = server.url
        settings.WAHA_API_KEY = API_KEY
        settings.WAHA_TIMEOUT_MS = 2000
        settings.FUNCTION_MESSAGE_RECIPIENT_ALLOWLIST = ["+55 11"]
        server.fake.add_session("front")
        yield server.fake
    assert server.fake.violations == []


@pytest.fixture
def channel(db):
    return Channel.objects.create(name="Front desk", session_name="front", status=Channel.Status.WORKING)


@pytest.fixture
def chrono_run(make_function, channel):
    def make(code: str, with_channel: bool = True, **fields):
        function = make_function(code, **fields)
        chrono = Chrono.objects.create(name="c", schedule="every 15 minutes", target_type="FUNCTION",
                                       function=function, channel=channel if with_channel else None)
        run = ChronoRun.objects.create(chrono=chrono, scheduled_for=chrono.created_at)
        return function, chrono, run

    return make


def test_messages_go_through_the_chronos_channel_and_are_recorded(waha, chrono_run):
    function, chrono, run = chrono_run(SEND_TWO)
    report = function.run_once(chrono=chrono, run=run)
    assert report.ok and report.messages == 2
    assert [s["chatId"] for s in waha.sent] == ["5511999990001@c.us", "5511999990002@c.us"]
    rows = Message.objects.filter(run=run, direction="out").order_by("pk")
    assert [(m.chat_id, m.text, m.status) for m in rows] == [
        ("5511999990001@c.us", "Olá Ana", "sent"), ("5511999990002@c.us", "Olá Bia", "sent")]


def test_the_functions_fallback_channel_is_used_when_the_chrono_has_none(waha, chrono_run, channel):
    function, chrono, run = chrono_run(SEND_TWO, with_channel=False)
    function.fallback_channel = channel
    function.save()
    assert function.run_once(chrono=chrono, run=run).ok
    assert len(waha.sent) == 2


def test_without_any_channel_nothing_is_sent(waha, make_function):
    report = make_function(SEND_TWO).run_once()
    assert not report.ok and "No WhatsApp channel" in report.error_text
    assert waha.sent == []


def test_a_recipient_outside_the_allowlist_is_refused_and_not_sent(waha, chrono_run):
    function, chrono, run = chrono_run("def run(ctx):\n    ctx.message.send({'to': '+1 202 555 0100', 'text': 'hi'})\n")
    report = function.run_once(chrono=chrono, run=run)
    assert waha.sent == [] and not Message.objects.exists()
    assert "FUNCTION_MESSAGE_RECIPIENT_ALLOWLIST" in report.error_text


def test_an_empty_recipient_allowlist_allows_no_one(waha, chrono_run, settings):
    settings.FUNCTION_MESSAGE_RECIPIENT_ALLOWLIST = []
    function, chrono, run = chrono_run(SEND_TWO)
    assert not function.run_once(chrono=chrono, run=run).ok
    assert waha.sent == []


def test_sending_past_max_messages_reaches_whatsapp_max_messages_times(waha, chrono_run):
    code = ("def run(ctx):\n    for i in range(10):\n        try:\n"
            "            ctx.message.send({'to': '55119999900%02d' % i, 'text': 'x'})\n"
            "        except Exception:\n            pass\n")
    function, chrono, run = chrono_run(code, max_messages=3)
    report = function.run_once(chrono=chrono, run=run)
    assert len(waha.sent) == 3 and report.messages == 3
    assert not report.ok and "max_messages" in report.error_text


def test_a_channel_that_is_not_working_raises_an_error_the_code_can_handle(waha, chrono_run, channel):
    Channel.objects.filter(pk=channel.pk).update(status=Channel.Status.SCAN_QR_CODE)
    code = ("def run(ctx):\n    try:\n        ctx.message.send({'to': '5511999990001', 'text': 'x'})\n"
            "    except MessageError as e:\n        return str(e)\n")
    function, chrono, run = chrono_run(code)
    report = function.run_once(chrono=Chrono.objects.get(pk=chrono.pk), run=run)
    assert report.ok and "not WORKING" in report.value
    assert waha.sent == []


def test_a_message_without_text_is_refused(waha, chrono_run):
    function, chrono, run = chrono_run("def run(ctx):\n    ctx.message.send({'to': '5511999990001'})\n")
    assert not function.run_once(chrono=chrono, run=run).ok
    assert waha.sent == []


# --- Issue 13, item 4: number prefixes match phone numbers only -------------------------------

@pytest.mark.parametrize("recipient", ["4930123-15550100@g.us", "49301234567@lid"])
def test_a_number_prefix_does_not_allow_a_group_or_a_lid_that_starts_with_it(recipient):
    assert recipient_allowed(recipient, ["+49 30"]) is None


def test_a_group_or_a_lid_is_allowed_by_an_entry_naming_it_in_full():
    allowlist = ["4930123-15550100@g.us", "49301234567@LID"]
    assert recipient_allowed("4930123-15550100@g.us", allowlist) == "4930123-15550100@g.us"
    assert recipient_allowed("49301234567@lid", allowlist) == "49301234567@lid"
    assert recipient_allowed("4930123-15550199@g.us", allowlist) is None


def test_a_number_prefix_still_allows_numbers_written_any_way():
    assert recipient_allowed("+49 30 1234567", ["+49 30"]) == "49301234567@c.us"
    assert recipient_allowed("49301234567@s.whatsapp.net", ["4930"]) == "49301234567@c.us"


def test_a_function_cannot_message_a_group_through_a_number_prefix(waha, chrono_run, settings):
    # Canary: the group chat must never receive the function's message.
    settings.FUNCTION_MESSAGE_RECIPIENT_ALLOWLIST = ["+49 30"]
    function, chrono, run = chrono_run(
        "def run(ctx):\n    ctx.message.send({'to': '4930123-15550100@g.us', 'text': 'CANARY'})\n")
    report = function.run_once(chrono=chrono, run=run)
    assert not report.ok and "FUNCTION_MESSAGE_RECIPIENT_ALLOWLIST" in report.error_text
    assert waha.sent == [] and not Message.objects.filter(text="CANARY").exists()


# --- an attachment by URL ----------------------------------------------------------------------------

SEND_IMAGE = ("def run(ctx):\n"
              "    return ctx.message.send({'to': '+55 11 99999-0001', 'text': 'Cardápio de hoje',\n"
              "                             'attachment': {'kind': 'image', 'url': 'https://cdn.example.org/menu.jpg'}})\n")


def test_a_function_sends_an_image_by_url_from_an_allowed_host(waha, chrono_run, settings):
    settings.FUNCTION_HTTP_ALLOWLIST = ["cdn.example.org"]
    function, chrono, run = chrono_run(SEND_IMAGE)

    report = function.run_once(chrono=chrono, run=run)

    assert report.ok, report.error_text
    assert [(m["route"], m["caption"], m["file"]["url"]) for m in waha.media_sent] == [
        ("sendImage", "Cardápio de hoje", "https://cdn.example.org/menu.jpg")]
    assert Message.objects.get(run=run).attachment["kind"] == "image"


def test_an_attachment_from_a_host_the_function_may_not_call_is_refused(waha, chrono_run, settings):
    settings.FUNCTION_HTTP_ALLOWLIST = ["api.example.org"]
    function, chrono, run = chrono_run(SEND_IMAGE)

    report = function.run_once(chrono=chrono, run=run)

    assert not report.ok and "FUNCTION_HTTP_ALLOWLIST" in report.error_text
    assert waha.media_sent == [] and not Message.objects.exists()


def test_a_wrong_attachment_kind_is_refused_naming_it(waha, chrono_run, settings):
    settings.FUNCTION_HTTP_ALLOWLIST = ["cdn.example.org"]
    function, chrono, run = chrono_run(SEND_IMAGE.replace("'image'", "'sticker'"))

    report = function.run_once(chrono=chrono, run=run)

    assert not report.ok and "attachment kind" in report.error_text
