"""What an agent calls the customer: the name the channel gave, else a masked address.

WhatsApp sends the profile name and an e-mail its From name; SMS, voice and the chat widget
give only an address, shown masked (`+44 ••• 0958`, `j•••@example.org`) so the page shows who
is who without putting the whole number or address on every screen.
"""

from __future__ import annotations

import re

from contactcenter.common.v1 import common_pb2

_MASK = "\u2022\u2022\u2022"
_DIGITS = re.compile(r"\d")
_PHONE_KINDS = (common_pb2.IDENTIFIER_KIND_PHONE, common_pb2.IDENTIFIER_KIND_WHATSAPP_ID)


def masked_address(kind: int, value: str) -> str:
    value = value.strip()
    if not value:
        return ""
    if kind in _PHONE_KINDS:
        digits = "".join(_DIGITS.findall(value))
        if len(digits) < 6:
            return _MASK
        country = f"+{digits[:2]} " if value.startswith("+") else ""
        return f"{country}{_MASK} {digits[-4:]}"
    if kind == common_pb2.IDENTIFIER_KIND_EMAIL and "@" in value:
        local, _, domain = value.rpartition("@")
        return f"{local[:1]}{_MASK}@{domain}"
    if kind == common_pb2.IDENTIFIER_KIND_WEBCHAT_VISITOR_ID:
        return f"Web visitor {value[-4:]}"
    return _MASK


def display_name(sender_name: str, kind: int, value: str) -> str:
    name = " ".join(sender_name.split())[:100]
    return name or masked_address(kind, value)
