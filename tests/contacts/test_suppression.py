"""A customer who said stop never hears from us again: every send goes through
Channel.send_and_record, which records a vetoed send as ``suppressed`` and never calls WAHA."""

from django.utils import timezone

from automations.models import Chrono, ChronoRun
from automations.runs import execution
from tests.contacts.conftest import CUSTOMER
from whatsapp.models import Message


def message_chrono(channel, recipients) -> Chrono:
    return Chrono.objects.create(name="Promo", schedule="manual", timezone="America/Sao_Paulo",
                                 target_type="MESSAGE", channel=channel, message_template="Promoção!",
                                 recipients=recipients)


def run_now(chrono) -> ChronoRun:
    run = ChronoRun.objects.create(chrono=chrono, scheduled_for=timezone.now(), trigger="manual")
    execution.execute(chrono.pk, None, None, run.pk, 0)
    run.refresh_from_db()
    return run


def test_a_customer_who_sent_sair_gets_no_message_chrono_send(inbound, channel, waha):
    inbound("SAIR")
    confirmations = len(waha.sent)  # the one confirmation of the opt-out
    run = run_now(message_chrono(channel, ["+55 11 98888-7777", "+55 11 97777-6666"]))

    assert [m["chatId"] for m in waha.sent[confirmations:]] == ["5511977776666@c.us"]
    assert run.status == "success" and run.result["suppressed"] == 1 and run.result["sent"] == 1
    row = Message.objects.get(run=run, chat_id=CUSTOMER)
    assert row.status == "suppressed" and "opted out" in row.error


def test_the_number_without_its_ninth_digit_is_suppressed_too(inbound, channel, waha):
    inbound("PARAR")
    confirmations = len(waha.sent)
    run_now(message_chrono(channel, ["+55 11 8888-7777"]))  # the same mobile, written without the 9
    assert waha.sent[confirmations:] == []


def test_a_customer_who_came_back_is_messaged_again(inbound, channel, waha):
    inbound("SAIR")
    inbound("VOLTAR")
    confirmations = len(waha.sent)
    run = run_now(message_chrono(channel, ["+55 11 98888-7777"]))
    assert run.result["sent"] == 1 and len(waha.sent) == confirmations + 1
