"""Before a contact's first send, WAHA's check-exists gives the chat id, cached on the contact."""

import pytest

from contacts import directory
from contacts.models import Contact
from whatsapp import signals

pytestmark = pytest.mark.django_db


def test_the_first_send_asks_check_exists_and_caches_the_chat_id(waha, channel):
    contact = Contact.objects.create(phone="5511988887777")
    waha.fail("GET", "/api/contacts/check-exists", status=200, body={"numberExists": True, "chatId": "551188887777@c.us"})

    first = directory.resolve_chat_id(contact, channel)
    second = directory.resolve_chat_id(Contact.objects.get(), channel)

    assert first == second == "551188887777@c.us"
    assert len(waha.calls("GET", "/api/contacts/check-exists")) == 1


def test_a_number_not_on_whatsapp_is_marked_and_then_suppressed(waha, channel):
    contact = Contact.objects.create(phone="5511988887777")
    waha.fail("GET", "/api/contacts/check-exists", status=200, body={"numberExists": False})

    assert directory.resolve_chat_id(contact, channel) is None
    assert Contact.objects.get().on_whatsapp is False
    assert signals.suppression_reason(channel, "5511988887777@c.us").startswith("not on WhatsApp")
