"""Issue 16's first acceptance point, against the fake WAHA (every request checked against the spec):
import, stop words, a campaign to everyone, acks, five failed sends retried, the CSV export."""

import csv
import io
from collections import Counter

import pytest

from campaigns import sending
from campaigns.models import Campaign, CampaignRecipient
from contacts.importer import Importer
from contacts.models import ConsentChange, Contact
from tests.whatsapp import fake_waha
from tests.whatsapp.fake_waha import Answer, FakeWaha
from whatsapp.models import Message

GOOD, BAD, STOPPERS = 980, 20, 10


def csv_file() -> list[str]:
    lines = ["telefone,nome,cidade"]
    for n in range(GOOD + BAD):
        if n % 50 == 7:  # 20 bad rows: numbers too short to be anyone's
            lines.append(f"12{n},Ruim {n},X")
        else:
            lines.append(f"55119{80000000 + n:08d},Cliente {n},Cidade {n % 7}")
    return [line + "\n" for line in lines]


def old_form(chat_id: str) -> str:
    """What WhatsApp answers for many Brazilian mobiles registered before the 9th digit: the 8-digit form."""
    digits = chat_id.split("@")[0]
    return f"{digits[:4]}{digits[5:]}@c.us"


@pytest.fixture
def check_exists_answers_the_old_form(monkeypatch):
    def check_exists(self, query, **_):
        return Answer(200, {"numberExists": True, "chatId": old_form(f"{query['phone']}@c.us")})

    # The fake's ROUTES hold its methods as they were at import: the route entry is what to replace.
    routes = [(m, p, check_exists if h is FakeWaha.check_exists else h) for m, p, h in fake_waha.ROUTES]
    monkeypatch.setattr(fake_waha, "ROUTES", routes)


def ack_payload(message_id: str, ack: int) -> dict:
    return {"id": message_id, "from": "5511888888888@c.us", "to": message_id.split("_")[1], "participant": None,
            "fromMe": True, "ack": ack, "ackName": {2: "DEVICE", 3: "READ"}[ack]}


def sends(waha: FakeWaha, since: int) -> list[dict]:
    return waha.sent[since:]


def test_a_campaign_to_an_imported_audience_sends_once_each_suppresses_the_stops_and_retries_only_the_failed(
        waha, channel, post_message, post_event, celery_eager, django_capture_on_commit_callbacks, fast_outbox,
        check_exists_answers_the_old_form):
    report = Importer(mapping={"custom.cidade": "cidade"}, partial=True).run(csv_file())
    assert (Contact.objects.count(), report.error_count) == (GOOD, BAD)
    assert sorted(e.row for e in report.errors) == [n + 2 for n in range(GOOD + BAD) if n % 50 == 7]

    stoppers = list(Contact.objects.order_by("pk")[:STOPPERS])
    for contact in stoppers:
        for _ in range(2):  # WAHA delivers one of them twice: still one opt-out, one confirmation
            with django_capture_on_commit_callbacks(execute=True):
                post_message(channel, "SAIR", sender=f"{contact.phone}@c.us")
    assert ConsentChange.objects.filter(opted_out=True).count() == STOPPERS
    assert Counter(body["chatId"] for body in waha.sent) == {f"{c.phone}@c.us": 1 for c in stoppers}
    before = len(waha.sent)

    campaign = Campaign.objects.create(name="Black Friday", channel=channel,
                                       message="{Olá|Oi|Bom dia}, {{ contact.first_name }} de {{ contact.fields.cidade }}!")
    waha.fail("POST", "/api/sendText", status=500, times=5)
    with django_capture_on_commit_callbacks(execute=True):
        sending.start(campaign)

    rows = CampaignRecipient.objects.filter(campaign=campaign)
    sent = sends(waha, before)
    expected_chats = {old_form(f"{c.phone}@c.us") for c in Contact.objects.filter(opted_out=False)}
    assert len(sent) == GOOD - STOPPERS - 5  # five refused by the fake
    assert len(waha.calls("POST", "/api/sendText")) - STOPPERS == GOOD - STOPPERS  # 970 asked for (after the 10 confirmations)
    assert Counter(b["chatId"] for b in sent).most_common(1)[0][1] == 1  # one each
    assert {b["chatId"] for b in sent} <= expected_chats  # the chat id check-exists returned
    assert rows.filter(state="suppressed").count() == STOPPERS
    assert rows.filter(state="failed").count() == 5
    assert rows.filter(state="sent").count() == GOOD - STOPPERS - 5
    assert all("500" in r for r in rows.filter(state="failed").values_list("reason", flat=True))  # WAHA's answer
    first = rows.filter(state="sent").select_related("contact").first()
    assert first.text.endswith(f"{first.contact.name.split()[0]} de {first.contact.custom_fields['cidade']}!")

    delivered, read = list(rows.filter(state="sent").select_related("message")[:2])
    with django_capture_on_commit_callbacks(execute=True):
        post_event(channel, "message.ack", ack_payload(delivered.message.waha_message_id, 2))
        post_event(channel, "message.ack", ack_payload(read.message.waha_message_id, 3))
    assert dict(rows.filter(pk__in=[delivered.pk, read.pk]).values_list("pk", "state")) == {
        delivered.pk: "delivered", read.pk: "read"}

    failed = set(rows.filter(state="failed").values_list("contact_id", flat=True))
    before_retry = len(waha.sent)
    with django_capture_on_commit_callbacks(execute=True):
        assert sending.retry_failed(campaign) == 5
    resent = sends(waha, before_retry)
    failed_chats = {old_form(f"{c.phone}@c.us") for c in Contact.objects.filter(pk__in=failed)}
    assert sorted(b["chatId"] for b in resent) == sorted(failed_chats)  # exactly those five
    assert rows.filter(state="failed").count() == 0
    assert set(rows.filter(attempt=2).values_list("contact_id", flat=True)) == failed
    assert Counter(b["chatId"] for b in waha.sent[before:]).most_common(1)[0][1] == 1  # still nobody twice

    sending.reap()
    campaign.refresh_from_db()
    assert campaign.status == "done"
    exported = list(csv.DictReader(io.StringIO("".join(
        __import__("campaigns.ledger", fromlist=["csv_lines"]).csv_lines(rows)))))
    assert len(exported) == GOOD
    by_contact = {int(line["contact_id"]): line for line in exported}
    for row in rows.select_related("message"):
        line = by_contact[row.contact_id]
        assert (line["state"], line["chat_id"], line["text"], line["attempt"]) == (
            row.state, row.chat_id, row.text, str(row.attempt))
        assert line["waha_message_id"] == (row.message.waha_message_id if row.message else "")
    assert Message.objects.filter(direction="out", status="queued").count() == 0
