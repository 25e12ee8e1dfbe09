"""Signed web chat visitor ids: a reload (or a new tab) continues the same customer.

A token is `wv1.<visitor id>.<signature>`, the signature HMAC-SHA256 over the id with a key
derived from the platform's secret for this purpose only, so a visitor token can never pass
for an API token (or the reverse) and nobody can pick another visitor's id.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

_PREFIX = "wv1"
_VISITOR_ID = re.compile(r"^[0-9a-f]{32}$")


def visitor_key(platform_secret: str) -> bytes:
    return hmac.new(platform_secret.encode(), b"webchat-visitor-token", hashlib.sha256).digest()


def _signature(key: bytes, visitor_id: str) -> str:
    digest = hmac.new(key, f"{_PREFIX}.{visitor_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def mint_visitor_token(key: bytes, visitor_id: str) -> str:
    if not _VISITOR_ID.match(visitor_id):
        raise ValueError("a visitor id is 32 lowercase hex characters")
    return f"{_PREFIX}.{visitor_id}.{_signature(key, visitor_id)}"


def visitor_of(key: bytes, token: str) -> str | None:
    """The visitor id the token names, or None when it is malformed or not ours."""
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != _PREFIX or not _VISITOR_ID.match(parts[1]):
        return None
    if not hmac.compare_digest(parts[2].encode(), _signature(key, parts[1]).encode()):
        return None
    return parts[1]
