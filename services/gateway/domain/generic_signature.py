"""Signature of the generic provider API: HMAC-SHA256 over `<timestamp>.<raw body>`.

The provider sends `X-CC-Timestamp` (Unix seconds) and `X-CC-Signature: sha256=<hex>`. The
timestamp is inside the signed text, so a captured request cannot be replayed once it falls
outside the tolerance window (5 minutes either way, to allow for clock skew).
"""

from __future__ import annotations

import hashlib
import hmac

TOLERANCE_SECONDS = 300
_PREFIX = "sha256="


def generic_signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return _PREFIX + digest


def signature_problem(
    secret: str, timestamp: str | None, signature: str | None, body: bytes, *, now: float
) -> str | None:
    """Why the request's signature is not acceptable (naming the header), or None when it is."""
    if not timestamp:
        return "X-CC-Timestamp: header required"
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        return "X-CC-Timestamp: must be Unix seconds"
    if abs(now - int(timestamp)) > TOLERANCE_SECONDS:
        return f"X-CC-Timestamp: more than {TOLERANCE_SECONDS} seconds from the gateway's clock"
    if not signature:
        return "X-CC-Signature: header required"
    if not signature.startswith(_PREFIX):
        return f"X-CC-Signature: must be {_PREFIX}<hex>"
    expected = generic_signature(secret, timestamp, body)
    if not hmac.compare_digest(expected.encode(), signature.strip().encode(errors="replace")):
        return "X-CC-Signature: does not match the body"
    return None
