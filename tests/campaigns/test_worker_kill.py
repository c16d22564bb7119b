"""Issue 16's acceptance point: a worker SIGKILLed in the middle of a campaign; after restart no
recipient has two sends and none is left queued forever.

A real Celery worker and beat (chronoflow/processes.py) send a 250-recipient campaign through
the fake WAHA on 127.0.0.1, which answers each sendText slowly (it records the send first, as
WAHA does, then waits). The worker is killed with ``kill -9`` mid-campaign: its ledger rows are
left ``queued`` (their tasks lost or unacknowledged) or ``sending`` (a Message in the outbox, or
one mid-call). A new worker and the campaign reaper (every second here) finish them: every
recipient got its message once; a send in flight at the kill ends ``unconfirmed`` and is never
sent again (WAHA may have carried it out).
"""

import signal
import time
from collections import Counter

import pytest

from campaigns import sending
from campaigns.models import Campaign, CampaignRecipient
from contacts.models import Contact
from tests.processes import running, wait_until
from tests.whatsapp.fake_waha import API_KEY, FakeWaha, FakeWahaServer
from whatsapp.models import Channel, Message

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

RECIPIENTS = 250
SEND_DELAY_S = 0.02
# Faults heal in seconds: a task unacknowledged for 3 s is redelivered, queued rows with nothing
# claimed for 3 s are handed out again, a send 'sending' for 4 s had its worker die.
FAST = {"REDIS_VISIBILITY_TIMEOUT_S": "3", "REDIS_RESTORE_INTERVAL_S": "1", "CAMPAIGN_REAPER_INTERVAL_S": "1",
        "CAMPAIGN_STALL_S": "3", "WAHA_TIMEOUT_MS": "3000", "WAHA_SEND_LOST_AFTER_S": "4", "WAHA_SEND_PUMP_S": "1",
        "WAHA_WEBHOOK_HMAC_KEY": "", "RUN_REAPER_INTERVAL_S": "1"}


class SlowWaha(FakeWaha):
    """WAHA taking ``SEND_DELAY_S`` to answer a sendText it has already carried out."""

    def handle(self, prepared):
        answer = super().handle(prepared)
        if prepared.path_url.startswith("/api/sendText"):
            time.sleep(SEND_DELAY_S)
        return answer


@pytest.fixture
def waha_server(settings):
    with FakeWahaServer(SlowWaha()) as server:
        server.fake.add_session("front", status="WORKING")
        settings.WAHA_BASE_URL, settings.WAHA_API_KEY = server.url, API_KEY
        yield server
    assert server.fake.violations == [], "requests WAHA's spec does not allow"


def audience() -> list[Contact]:
    return Contact.objects.bulk_create([Contact(phone=f"55119{60000000 + n:08d}", name=f"Cliente {n}")
                                        for n in range(RECIPIENTS)])


def waiting() -> int:
    return CampaignRecipient.objects.filter(state__in=CampaignRecipient.WAITING).count()


def finished(campaign: Campaign) -> bool:
    campaign.refresh_from_db(fields=["status"])
    return campaign.status == "done" and not waiting()


def situation(campaign: Campaign) -> str:
    rows = Counter(CampaignRecipient.objects.filter(campaign=campaign).values_list("state", flat=True))
    messages = Counter(Message.objects.filter(direction="out").values_list("status", flat=True))
    campaign.refresh_from_db()
    return f"campaign {campaign.status}, ledger {dict(rows)}, messages {dict(messages)}"


def test_a_worker_killed_mid_campaign_leaves_nobody_messaged_twice_and_no_row_waiting(waha_server, tmp_path):
    waha = waha_server.fake
    channel = Channel.objects.create(name="Front desk", session_name="front", status=Channel.Status.WORKING)
    audience()
    campaign = Campaign.objects.create(name="Natal", channel=channel, message="{Olá|Oi} {{ contact.first_name }}!")
    env = {"WAHA_BASE_URL": waha_server.url, "WAHA_API_KEY": API_KEY, **FAST}

    (tmp_path / "first").mkdir()
    with running("worker", "beat", log_dir=tmp_path / "first", **env) as procs:
        sending.start(campaign)
        wait_until(lambda: len(waha.sent) >= RECIPIENTS // 4, timeout=40, interval=0.05,
                   message="a quarter of the campaign to be sent")
        procs["worker"].kill(signal.SIGKILL)
    sent_before = len(waha.sent)
    assert sent_before < RECIPIENTS * 0.9, "killed mid-campaign"
    assert waiting() >= RECIPIENTS // 10  # what a crash leaves: rows queued or sending

    (tmp_path / "second").mkdir()
    with running("worker", "beat", log_dir=tmp_path / "second", **env):
        try:
            wait_until(lambda: finished(campaign), timeout=45, message="every ledger row to end and the campaign done")
        except TimeoutError:
            pytest.fail(f"still waiting: {situation(campaign)}")

    received = Counter(body["chatId"] for body in waha.sent)
    assert [chat for chat, times in received.items() if times > 1] == []  # nobody messaged twice
    rows = dict(CampaignRecipient.objects.filter(campaign=campaign).values_list("chat_id", "state"))
    assert len(rows) == RECIPIENTS
    unconfirmed = {chat for chat, state in rows.items() if state == "unconfirmed"}
    assert len(unconfirmed) <= 2  # at most the sends in flight at the kill (concurrency 2)
    assert {state for chat, state in rows.items() if chat not in unconfirmed} == {"sent"}
    assert set(received) - unconfirmed == set(rows) - unconfirmed  # every sent row reached WAHA, once
    assert len(waha.calls("POST", "/api/sendText")) == len(waha.sent)  # no call refused, none repeated
    assert not Message.objects.filter(direction="out", status__in=["queued", "sending"]).exists()
