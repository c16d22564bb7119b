"""The campaigns tests' cast: the events tests' spec-checked fake WAHA, its WORKING channel
(ungoverned: sends go through the outbox unpaced), inbound messages and acks posted as WAHA does."""

import pytest

from campaigns.models import Campaign
from contacts.models import Contact, Tag
from tests.events.conftest import channel, post_message, waha  # noqa: F401 (fixtures)
from tests.whatsapp.conftest import post_event, waha_settings  # noqa: F401 (fixtures)
from whatsapp import outbox


@pytest.fixture
def fast_outbox(monkeypatch):
    # The outbox weighs 20 candidates per step for pacing; unpaced, one is as good and 20x cheaper.
    monkeypatch.setattr(outbox, "CANDIDATES", 1)


@pytest.fixture
def make_contacts(db):
    def make(n: int, tag: str = "", **fields) -> list[Contact]:
        contacts = Contact.objects.bulk_create(
            [Contact(phone=f"55119{70000000 + i:08d}", name=f"Pessoa {i}", custom_fields={"cidade": f"C{i}"}, **fields)
             for i in range(n)])
        if tag:
            Tag.objects.get_or_create(name=tag)[0].contacts.add(*contacts)
        return contacts

    return make


@pytest.fixture
def make_campaign(channel):
    def make(**fields) -> Campaign:
        defaults = {"name": "Promoção", "channel": channel, "message": "{Olá|Oi} {{ contact.first_name }}!"}
        return Campaign.objects.create(**{**defaults, **fields})

    return make
