"""HMAC signatures of raw request bodies: the one place that computes and compares them.

WAHA signs its webhooks with HMAC-SHA512 (whatsapp/signature.py), integrators sign hook
bodies with HMAC-SHA256 (automations/events/hooks.py). Both compare in constant time.
"""

import hashlib
import hmac


def hex_hmac(key: str, body: bytes, algorithm: str = "sha256") -> str:
    """The lower-case hex HMAC of ``body`` under ``key`` (``algorithm``: a hashlib name)."""
    return hmac.new(key.encode(), body, getattr(hashlib, algorithm)).hexdigest()


def same(expected: str, given: str) -> bool:
    """Constant-time comparison of two secrets or digests (no early exit on the first difference)."""
    return hmac.compare_digest(expected.encode(), given.encode())


def verify(key: str, body: bytes, given: str, algorithm: str = "sha256") -> bool:
    """True when ``given`` (hex, any case, surrounding spaces ignored) signs ``body`` under ``key``."""
    if not key or not given:
        return False
    return same(hex_hmac(key, body, algorithm), given.strip().lower())
