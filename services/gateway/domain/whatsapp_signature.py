"""Meta's webhook signature: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(raw body, app secret)>`."""

from __future__ import annotations

import hashlib
import hmac

_PREFIX = "sha256="


def whatsapp_signature(app_secret: str, body: bytes) -> str:
    return _PREFIX + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def valid_whatsapp_signature(app_secret: str, body: bytes, signature: str | None) -> bool:
    if not signature or not signature.startswith(_PREFIX):
        return False
    expected = whatsapp_signature(app_secret, body)
    return hmac.compare_digest(expected.encode(), signature.strip().encode(errors="replace"))
