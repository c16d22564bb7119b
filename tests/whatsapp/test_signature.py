"""WAHA's webhook HMAC, checked with the test vector from waha/README.md."""

from whatsapp import signature

VECTOR_KEY = "my-secret-key"
VECTOR_BODY = b'{"event":"message","session":"default","engine":"WEBJS"}'
VECTOR_DIGEST = (
    "208f8a55dde9e05519e898b10b89bf0d0b3b0fdf11fdbf09b6b90476301b98d8"
    "097c462b2b17a6ce93b6b47a136cf2e78a33a63f6752c2c1631777076153fa89"
)


def test_it_computes_the_digest_of_the_readme_test_vector():
    assert signature.sign(VECTOR_KEY, VECTOR_BODY) == VECTOR_DIGEST


def test_it_accepts_the_test_vector_in_upper_case_hex():
    assert signature.verify(VECTOR_KEY, VECTOR_BODY, VECTOR_DIGEST.upper())


def test_it_refuses_the_digest_of_the_same_json_serialised_differently():
    respaced = b'{"event": "message", "session": "default", "engine": "WEBJS"}'

    assert not signature.verify(VECTOR_KEY, respaced, VECTOR_DIGEST)


def test_it_refuses_a_digest_made_with_another_key():
    assert not signature.verify("another-key", VECTOR_BODY, VECTOR_DIGEST)


def test_it_refuses_an_empty_signature_or_key():
    assert not signature.verify(VECTOR_KEY, VECTOR_BODY, "")
    assert not signature.verify("", VECTOR_BODY, VECTOR_DIGEST)
