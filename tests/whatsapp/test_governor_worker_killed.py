"""Issue 17's last acceptance point, with real processes: a worker SIGKILLed with 200 governed
sends queued; after restart every send happens at most once, and every one is accounted for.

A real Celery worker and beat (chronoflow/processes.py) send through the fake WAHA on
127.0.0.1. The fake carries out send number 100 but holds its answer, and the worker is
killed with ``kill -9`` while it waits: that row is left ``sending`` although WAHA sent it,
the hardest case. What happens to the rows in flight at the kill: they end ``unconfirmed``
and are never sent again (WAHA may have sent them; a duplicate is what the rule forbids).
Every other row ends ``sent``, and WAHA got each of them exactly once.
"""

import signal
from collections import Counter

import pytest
from django.db import transaction

from tests.processes import running, wait_until
from tests.whatsapp.fake_waha import API_KEY, FakeWahaServer
from whatsapp.models import Channel, Message

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

SENDS = 200
# Unpaced and without send windows, so 200 sends take seconds; typing is skipped (typing_max_s=0).
LIMITS = {"per_minute": 0, "per_hour": 0, "per_day": 0, "new_per_hour": 0, "new_per_day": 0, "min_gap_s": 0,
          "new_min_gap_s": 0, "jitter_s": 0, "typing_max_s": 0, "window_start": "", "window_end": ""}


@pytest.fixture
def waha_server(settings):
    with FakeWahaServer() as server:
        server.fake.add_session("front", status="WORKING")
        settings.WAHA_BASE_URL, settings.WAHA_API_KEY = server.url, API_KEY
        yield server
        server.fake.release()
    assert server.fake.violations == [], "requests WAHA's spec does not allow"


def process_settings(server: FakeWahaServer) -> dict:
    # A live call ends within 3 s; a row 'sending' for 4 s had its worker die. The pump looks every second.
    return {"WAHA_BASE_URL": server.url, "WAHA_API_KEY": API_KEY, "WAHA_WEBHOOK_HMAC_KEY": "",
            "WAHA_TIMEOUT_MS": "3000", "WAHA_SEND_LOST_AFTER_S": "4", "WAHA_SEND_PUMP_S": "1"}


def chat(n: int) -> str:
    return f"55119{n:08d}@c.us"


def queue_sends(channel: Channel) -> None:
    with transaction.atomic():  # all 200 rows exist before the first send
        for n in range(SENDS):
            channel.send_and_record(chat(n), f"Olá, cliente {n}! Sua consulta é amanhã.")


def settled() -> bool:
    return not Message.objects.filter(direction="out", status__in=["queued", "sending"]).exists()


def test_a_worker_killed_with_200_sends_queued_sends_none_twice_and_accounts_for_every_one(waha_server, tmp_path):
    waha = waha_server.fake
    channel = Channel.objects.create(name="Front desk", session_name="front", status=Channel.Status.WORKING,
                                     send_profile="fast", send_limits=LIMITS)
    waha.stall_send(SENDS // 2)
    env = process_settings(waha_server)

    (tmp_path / "first").mkdir()
    with running("worker", "beat", log_dir=tmp_path / "first", **env) as procs:
        queue_sends(channel)
        wait_until(waha.stalled.is_set, timeout=40, interval=0.05, message="the worker to reach send 100")
        procs["worker"].kill(signal.SIGKILL)
    waha.release()  # its answer goes to a dead socket
    in_flight = set(Message.objects.filter(status="sending").values_list("chat_id", flat=True))
    assert waha.sent[SENDS // 2 - 1]["chatId"] in in_flight  # WAHA sent it; the worker never heard so
    assert Message.objects.filter(status="queued").count() >= SENDS // 3  # killed mid-way, much still queued

    (tmp_path / "second").mkdir()
    with running("worker", "beat", log_dir=tmp_path / "second", **env):
        wait_until(settled, timeout=40, message="every queued send to end")

    received = Counter(body["chatId"] for body in waha.sent)
    assert [c for c, times in received.items() if times > 1] == []  # nobody got a message twice
    rows = dict(Message.objects.filter(direction="out").values_list("chat_id", "status"))
    assert len(rows) == SENDS
    unconfirmed = {c for c, status in rows.items() if status == "unconfirmed"}
    assert unconfirmed == in_flight  # the rows in flight at the kill, and only those
    assert all(status == "sent" for c, status in rows.items() if c not in unconfirmed)
    assert {c for c in rows if c not in unconfirmed} <= set(received)  # every sent row reached WAHA, once
    assert len(in_flight) <= 2  # at most one per worker process (concurrency 2)
