"""Recipients as operators write them → WhatsApp chat ids."""

import pytest

from whatsapp.recipients import InvalidRecipient, normalise


@pytest.mark.parametrize("written, chat_id", [
    ("+55 (11) 99999-9999", "5511999999999@c.us"),
    ("5511999999999", "5511999999999@c.us"),
    ("+1 212.555.0100", "12125550100@c.us"),
    (5511999999999, "5511999999999@c.us"),
    ("5511999999999@c.us", "5511999999999@c.us"),
    ("5511999999999@s.whatsapp.net", "5511999999999@c.us"),
])
def test_it_turns_phone_numbers_into_user_chat_ids(written, chat_id):
    assert normalise(written) == chat_id


@pytest.mark.parametrize("chat_id", ["120363025246125486@g.us", "5511999999999-1617199999@g.us", "123456789012345@lid"])
def test_it_keeps_group_and_lid_ids(chat_id):
    assert normalise(chat_id) == chat_id


@pytest.mark.parametrize("written, reason", [
    ("joao", "is not a phone number"),
    ("", "is not a phone number"),
    ("12345", "has 5 digits"),
    ("+55 11 99999-9999 ramal 2", "is not a phone number"),
    ("abc@c.us", "is not a WhatsApp chat id"),
    ("123@newsletter", "is not a WhatsApp chat id"),
    (None, "is not a phone number"),
    (True, "is not a phone number"),
])
def test_it_refuses_anything_else_saying_why(written, reason):
    with pytest.raises(InvalidRecipient, match=reason):
        normalise(written)
