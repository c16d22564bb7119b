"""Phone numbers as contacts are keyed: E.164 digits, one form per Brazilian mobile."""

import pytest

from contacts import phones


@pytest.mark.parametrize("written", ["+55 (11) 98888-7777", "+55 11 8888-7777", "5511988887777", "551188887777",
                                     "0055 11 98888 7777"])
def test_a_brazilian_mobile_with_or_without_the_ninth_digit_is_one_number(written):
    assert phones.canonical(written) == "5511988887777"


def test_a_brazilian_landline_keeps_its_eight_digits():
    assert phones.canonical("+55 11 3333-4444") == "551133334444"


@pytest.mark.parametrize("written", ["(11) 98888-7777", "11 8888-7777", "011 98888-7777"])
def test_a_national_brazilian_number_gets_the_default_country_code(written):
    assert phones.canonical(written, default_country="55") == "5511988887777"


def test_a_number_written_with_plus_is_never_read_as_national():
    assert phones.canonical("+1 555 123 4567", default_country="55") == "15551234567"


def test_without_a_default_country_digits_are_read_as_international():
    assert phones.canonical("11 98888-7777") == "11988887777"


@pytest.mark.parametrize("written, reason", [("call me", "not a phone number"), ("+55 11", "has 4 digits"),
                                             ("", "not a phone number"), ("+1234567890123456", "has 16 digits")])
def test_it_refuses_what_is_not_a_phone_number_saying_why(written, reason):
    with pytest.raises(phones.InvalidPhone, match=reason):
        phones.canonical(written)


def test_a_brazilian_mobile_is_known_to_whatsapp_in_both_forms():
    assert phones.whatsapp_forms("5511988887777") == ["5511988887777", "551188887777"]
    assert phones.whatsapp_forms("4930123456") == ["4930123456"]


@pytest.mark.parametrize("chat_id, expected", [
    ("551188887777@c.us", ("5511988887777", "")),
    ("5511988887777@s.whatsapp.net", ("5511988887777", "")),
    ("123456789012345@lid", ("", "123456789012345@lid")),
    ("120363000000000000@g.us", ("", "")),
    ("status@broadcast", ("", "")),
])
def test_a_chat_id_gives_the_phone_or_the_lid_behind_it(chat_id, expected):
    assert phones.from_chat_id(chat_id) == expected
