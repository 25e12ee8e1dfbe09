"""How Twilio signs the webhooks it sends (`X-Twilio-Signature`), from the provider's side.

The full URL requested followed by every POST parameter sorted by name, each name immediately
followed by its value; HMAC-SHA1 with the account's auth token, base64-encoded.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping


def sign(url: str, params: Mapping[str, str], auth_token: str) -> str:
    payload = url + "".join(name + value for name, value in sorted(params.items()))
    return base64.b64encode(hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()).decode()
