"""WAHA's webhook signature: hex HMAC-SHA512 of the exact raw request body.

Only the body is signed (not the URL, not the timestamp header), so it must be checked
against ``request.body`` before anything parses or re-serialises it.
"""

from chronoflow import signing

ALGORITHM = "sha512"  # what WAHA sends in X-Webhook-Hmac-Algorithm


def sign(key: str, body: bytes) -> str:
    """The hex digest WAHA sends in ``X-Webhook-Hmac`` for this body."""
    return signing.hex_hmac(key, body, ALGORITHM)


def verify(key: str, body: bytes, signature: str) -> bool:
    """True when ``signature`` is the body's HMAC under ``key``; constant-time, case-insensitive hex."""
    return signing.verify(key, body, signature, ALGORITHM)
