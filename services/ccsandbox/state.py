"""What one sandbox holds: the records, the scripted faults, the credentials it checks, the calls."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

from aiohttp import web

from ccsandbox.faults import Fault, Faults
from ccsandbox.records import Outbox


@dataclass
class Credentials:
    """Accounts the sandbox checks; an empty map accepts any well-formed credentials."""

    #: Twilio AccountSid -> auth token.
    twilio: Mapping[str, str] = field(default_factory=dict)
    #: WhatsApp Cloud API access tokens.
    graph_tokens: frozenset[str] = frozenset()
    #: Signing secrets of generic partner callbacks; empty: signatures are recorded, not checked.
    partner_secrets: frozenset[str] = frozenset()

    def twilio_ok(self, account_sid: str, user: str, password: str) -> bool:
        if user != account_sid or not password:
            return False
        expected = self.twilio.get(account_sid) if self.twilio else password
        return expected is not None and secrets.compare_digest(expected, password)

    def partner_ok(self, timestamp: str, body: bytes, signature: str) -> bool:
        if not self.partner_secrets:
            return True
        return any(
            hmac.compare_digest(
                "sha256="
                + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest(),
                signature,
            )
            for secret in self.partner_secrets
        )

    def graph_ok(self, token: str) -> bool:
        if not token:
            return False
        return token in self.graph_tokens if self.graph_tokens else True


@dataclass
class SandboxState:
    outbox: Outbox = field(default_factory=Outbox)
    faults: Faults = field(default_factory=Faults)
    credentials: Credentials = field(default_factory=Credentials)


async def faulted(fault: Fault | None, request: web.Request) -> bool:
    """Apply the delay or dropped connection of a fault; True when nothing may be answered."""
    if fault is None:
        return False
    if fault.delay_seconds:
        await asyncio.sleep(fault.delay_seconds)
    if fault.drop:
        # A provider that accepted the connection and then vanished: no status line at all.
        if request.transport is not None:
            request.transport.close()
        return True
    return False


def new_id(prefix: str) -> str:
    return prefix + secrets.token_hex(16)
