"""WAHA's webhook signature: hex HMAC-SHA512 of the exact raw request body.

Only the body is signed (not the URL, not the timestamp header), so it must be checked
against ``request.body`` before anything parses or re-serialises it.
"""

import hashlib
import hmac


def sign(key: str, body: bytes) -> str:
    """The hex digest WAHA sends in ``X-Webhook-Hmac`` for this body."""
    return hmac.new(key.encode(), body, hashlib.sha512).hexdigest()


def verify(key: str, body: bytes, signature: str) -> bool:
    """True when ``signature`` is the body's HMAC under ``key``; constant-time, case-insensitive hex."""
    if not key or not signature:
        return False
    return hmac.compare_digest(sign(key, body), signature.strip().lower())
