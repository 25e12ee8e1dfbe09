"""Twilio's webhook signature (`X-Twilio-Signature`), computed exactly as Twilio documents it.

Twilio signs the full URL it requested (scheme, host, path and query string as configured in
the console) followed by every POST parameter, sorted by name, each name immediately followed
by its value; HMAC-SHA1 with the account's auth token, base64-encoded. Comparing in constant
time keeps the check from leaking how many leading characters of a guess were right.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable


def twilio_signature(url: str, params: Iterable[tuple[str, str]], auth_token: str) -> str:
    # Repeated names (e.g. several MediaUrl values) sort by name, then by value, as Twilio's libraries do.
    payload = url + "".join(name + value for name, value in sorted(params))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def valid_twilio_signature(
    url: str, params: Iterable[tuple[str, str]], auth_token: str, signature: str | None
) -> bool:
    if not signature:
        return False
    expected = twilio_signature(url, params, auth_token)
    return hmac.compare_digest(expected.encode(), signature.strip().encode())
