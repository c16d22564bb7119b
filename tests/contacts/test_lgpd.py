"""LGPD requests: a contact's data exported whole, and erased with its messages."""

import json

import pytest
from django.core.management import CommandError, call_command

from contacts import lgpd
from contacts.models import ConsentChange, Contact
from tests.contacts.conftest import CUSTOMER
from whatsapp.models import Message

pytestmark = pytest.mark.django_db


def test_the_export_holds_the_contact_its_consent_history_and_its_messages(inbound):
    inbound("Oi", sender="551188887777@c.us")  # WhatsApp's form without the 9th digit
    inbound("SAIR", sender="551188887777@c.us")

    data = lgpd.export(Contact.objects.get())

    assert data["contact"]["phone"] == "5511988887777" and data["contact"]["opted_out"]
    assert [m["text"] for m in data["messages"]] == ["Oi", "SAIR"]
    assert [c["how"] for c in data["consent_changes"]] == ["stop_word"]


def test_erasing_deletes_the_contact_its_audit_and_its_messages_but_not_others(inbound):
    inbound("SAIR")
    inbound("Oi", sender="5521977776666@c.us")

    counts = lgpd.erase(Contact.objects.get(phone="5511988887777"))

    assert counts == {"messages": 1, "consent_changes": 1, "contacts": 1}
    assert list(Message.objects.values_list("chat_id", flat=True)) == ["5521977776666@c.us"]
    assert not ConsentChange.objects.exists() and Contact.objects.count() == 1


def test_the_command_exports_as_json_on_stdout(capsys):
    Contact.objects.create(phone="5511988887777", name="Ana")

    call_command("contact_data", "export", "+55 11 8888-7777")

    assert json.loads(capsys.readouterr().out)["contact"]["name"] == "Ana"


def test_the_command_erases_a_contact_named_by_chat_id():
    Contact.objects.create(phone="5511988887777", chat_id=CUSTOMER)

    call_command("contact_data", "erase", CUSTOMER, "--yes")

    assert not Contact.objects.exists()


def test_the_command_names_who_it_cannot_find():
    with pytest.raises(CommandError, match="who: no contact"):
        call_command("contact_data", "export", "5511988887777")
