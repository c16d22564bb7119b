"""manage.py waha ...: the Channel's own methods against a fake WAHA checked against WAHA's spec."""

import io

import pytest
import segno
from django.core.management import CommandError, call_command

from whatsapp.models import Channel


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("waha", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_sessions_lists_channels_with_what_waha_says_and_sessions_no_channel_claims(waha, make_channel):
    make_channel(session_name="front", status="WORKING")
    waha.add_session("front", "FAILED")
    waha.add_session("stray", "WORKING")
    lines = run("sessions").splitlines()
    front = next(line for line in lines if line.split()[1] == "front")
    assert "WORKING" in front and "FAILED" in front and "Loja (+5511888888888)" in front
    assert any("stray" in line and "(no channel)" in line for line in lines)


@pytest.mark.parametrize("action, waha_status, should_run", [
    ("start", "STARTING", True), ("stop", "STOPPED", False), ("restart", "STARTING", True), ("logout", "STARTING", True),
])
def test_a_session_action_calls_waha_and_stores_the_new_status(waha, make_channel, action, waha_status, should_run):
    channel = make_channel(session_name="front", status="WORKING")
    waha.add_session("front", "WORKING")
    out = run(action, "front")
    channel.refresh_from_db()
    assert f"front is now {waha_status}" in out
    assert (channel.status, channel.should_run) == (waha_status, should_run)
    assert channel.status_changes.filter(status=waha_status).exists()


def test_a_channel_may_be_named_by_its_id(waha, make_channel):
    channel = make_channel(session_name="front", status="STOPPED")
    waha.add_session("front", "STOPPED")
    assert "front is now STARTING" in run("start", str(channel.pk))


def test_an_unknown_channel_is_an_error_naming_it(waha, db):
    with pytest.raises(CommandError, match="No channel has the id or session name 'ghost'"):
        run("start", "ghost")


def test_a_waha_refusal_exits_non_zero_with_wahas_reason_and_keeps_it_on_the_channel(waha, make_channel):
    channel = make_channel(session_name="front")
    waha.add_session("front", "WORKING")
    waha.fail("POST", "/api/sessions/front/stop", status=500)
    with pytest.raises(CommandError, match="WAHA refused or could not be reached"):
        run("stop", "front")
    channel.refresh_from_db()
    assert channel.last_error and channel.should_run


def test_status_asks_waha_and_prints_the_stored_status_and_account(waha, make_channel):
    channel = make_channel(session_name="front", status="STARTING")
    waha.add_session("front", "WORKING", me={"id": "5511777777777@c.us", "pushName": "Caixa"})
    out = run("status", "front")
    channel.refresh_from_db()
    assert channel.status == "WORKING" and "WORKING (changed now)" in out and "Caixa (+5511777777777)" in out


def test_qr_prints_wahas_qr_as_text_blocks(waha, make_channel):
    make_channel(session_name="front", status=Channel.Status.SCAN_QR_CODE)
    waha.add_session("front", "SCAN_QR_CODE")
    expected = io.StringIO()
    segno.make("2@fake-qr-front", error="l").terminal(out=expected, compact=True, border=2)
    out = run("qr", "front")
    assert expected.getvalue() in out and "█" in out


def test_qr_of_a_session_not_waiting_for_a_scan_says_what_to_do(waha, make_channel):
    make_channel(session_name="front", status="WORKING")
    with pytest.raises(CommandError, match="front is WORKING, not waiting for a QR scan"):
        run("qr", "front")


def test_a_missing_subcommand_is_refused_listing_them(db):
    with pytest.raises(CommandError, match="sessions,start,stop,restart,logout,status,qr"):
        call_command("waha")
