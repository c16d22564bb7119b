"""Inbound messages keep contacts up to date and carry stop words; every send asks before_send."""

import pytest

from contacts.models import ConsentChange, Contact
from tests.contacts.conftest import CUSTOMER
from tests.events.conftest import message_payload
from whatsapp import signals

pytestmark = pytest.mark.django_db


# --- Contacts from inbound messages ------------------------------------------------------------


def test_the_first_message_from_an_unknown_number_creates_its_contact(inbound):
    inbound("Oi, bom dia")

    contact = Contact.objects.get()
    assert (contact.phone, contact.chat_id) == ("5511988887777", CUSTOMER)
    assert contact.first_contact_at == contact.last_message_at is not None


def test_a_number_without_the_ninth_digit_writes_to_the_same_contact(inbound):
    known = Contact.objects.create(phone="5511988887777", name="Ana")

    inbound("Oi", sender="551188887777@c.us")

    known.refresh_from_db()
    assert Contact.objects.count() == 1
    assert known.chat_id == "551188887777@c.us"  # the form WhatsApp itself uses, kept for sending
    assert known.last_message_at is not None


def test_a_later_message_moves_last_message_but_not_first_contact(inbound):
    inbound(payload=message_payload("primeira", sender=CUSTOMER, timestamp=1767261600), text="")
    inbound(payload=message_payload("segunda", sender=CUSTOMER, timestamp=1767265200), text="")

    contact = Contact.objects.get()
    assert contact.first_contact_at.timestamp() == 1767261600
    assert contact.last_message_at.timestamp() == 1767265200


def test_group_messages_make_no_contact(inbound):
    inbound(payload=message_payload("SAIR", sender="120363000000000000@g.us", participant=CUSTOMER), text="")

    assert not Contact.objects.exists()


def test_an_unknown_lid_that_waha_maps_to_a_phone_joins_that_phones_contact(inbound, waha):
    known = Contact.objects.create(phone="5511988887777", name="Ana")
    waha.lids["123456789012345@lid"] = "5511988887777@c.us"

    inbound("Oi", sender="123456789012345@lid")

    known.refresh_from_db()
    assert Contact.objects.count() == 1 and known.lid == "123456789012345@lid"


def test_a_lid_waha_cannot_map_becomes_a_contact_of_its_own(inbound):
    inbound("Oi", sender="123456789012345@lid")

    contact = Contact.objects.get()
    assert (contact.phone, contact.lid, contact.send_to) == (None, "123456789012345@lid", "123456789012345@lid")


# --- Stop and start words --------------------------------------------------------------------


@pytest.mark.parametrize("word", ["SAIR", "sair", "  Sáir. ", "Parar", "stop", "CANCELAR", "descadastrar"])
def test_a_stop_word_opts_the_sender_out_and_is_confirmed_once(inbound, waha, word):
    inbound(word)

    contact = Contact.objects.get()
    assert contact.opted_out
    assert [sent["chatId"] for sent in waha.sent] == [CUSTOMER]
    assert "não receberá mais" in waha.sent[0]["text"]


def test_a_stop_word_inside_a_sentence_changes_nothing(inbound, waha):
    inbound("Não quero sair de casa hoje")

    assert not Contact.objects.get().opted_out
    assert waha.sent == []


def test_a_redelivered_stop_message_opts_out_and_confirms_once(inbound, waha, post_message, channel):
    payload = inbound("SAIR")
    inbound("", payload=payload)  # WAHA delivers the same message again (another envelope id)

    assert ConsentChange.objects.count() == 1
    assert len(waha.sent) == 1


def test_a_start_word_opts_back_in_and_a_redelivered_stop_does_not_undo_it(inbound, waha):
    stop = inbound("SAIR")
    inbound("VOLTAR")
    inbound("", payload=stop)

    contact = Contact.objects.get()
    assert not contact.opted_out
    assert list(contact.consent_changes.order_by("at", "pk").values_list("opted_out", "how")) == [
        (True, "stop_word"), (False, "start_word")]
    assert len(waha.sent) == 2 and "voltará a receber" in waha.sent[1]["text"]


def test_a_second_stop_from_an_opted_out_contact_sends_no_second_confirmation(inbound, waha):
    inbound("SAIR")
    inbound("PARAR")

    assert ConsentChange.objects.count() == 1 and len(waha.sent) == 1


def test_the_audit_row_keeps_the_message_and_the_word(inbound):
    inbound("Sair")

    change = ConsentChange.objects.get()
    assert (change.how, change.detail, change.message.text) == ("stop_word", "Sair", "Sair")
    assert change.confirmation_id.startswith("true_")


def test_stop_words_come_from_settings(inbound, settings, waha):
    settings.CONSENT_STOP_WORDS = ["BASTA"]

    inbound("SAIR")
    inbound("basta!")

    assert Contact.objects.get().opted_out
    assert ConsentChange.objects.get().detail == "basta!"


def test_a_failed_confirmation_is_kept_on_the_change_and_the_opt_out_holds(inbound, waha):
    waha.fail("POST", "/api/sendText", status=500)

    inbound("SAIR")

    change = ConsentChange.objects.get()
    assert change.contact.opted_out and change.confirmation_error and not change.confirmation_id


# --- before_send ---------------------------------------------------------------------------------


def test_a_send_to_an_opted_out_contact_is_suppressed_with_the_reason(inbound, channel):
    inbound("SAIR")
    Contact.objects.update(opted_out_at="2026-12-02T15:00:00Z")

    reason = signals.suppression_reason(channel, CUSTOMER)

    assert reason == "opted out on 2026-12-02 via 'SAIR'"


def test_the_opt_out_holds_for_the_number_written_without_the_ninth_digit(inbound, channel):
    inbound("SAIR")

    assert signals.suppression_reason(channel, "551188887777@c.us").startswith("opted out on ")


def test_a_send_to_a_contact_who_did_not_opt_out_or_to_a_stranger_goes(inbound, channel):
    inbound("Oi")

    assert signals.suppression_reason(channel, CUSTOMER) is None
    assert signals.suppression_reason(channel, "4930123456@c.us") is None
    assert signals.suppression_reason(channel, "120363000000000000@g.us") is None


def test_an_opt_out_said_from_a_lid_holds_for_the_lid(inbound, channel):
    inbound("SAIR", sender="123456789012345@lid")

    assert signals.suppression_reason(channel, "123456789012345@lid").startswith("opted out on ")
