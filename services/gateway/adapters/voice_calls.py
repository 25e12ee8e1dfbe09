"""Live calls in the region's gateway KV bucket: the voice leg's CallSid and what became of it.

`call.<tenant>.<CallSid>` is the call's record (contact, endpoint, queued, accepted by, Twilio's
last status); `voicecall.<tenant>.<contact>` names the contact's latest call, so an agent's
accept finds the call to redirect. Every change is written with the revision it was read at:
Twilio's status callback and an agent's accept can race, and exactly one of them must win.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from gateway.domain.voice_call import VoiceCall

#: Lost races on a call record retried before giving up (the consumer's redelivery starts over).
RECORD_ATTEMPTS = 8


class CallRecordBusy(RuntimeError):
    """The call's record kept changing under us; the caller retries later."""


class VoiceCalls:
    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv

    async def get(self, tenant_id: str, call_sid: str) -> VoiceCall | None:
        call, _ = await self._read(_call_key(tenant_id, call_sid))
        return call

    async def of_contact(self, tenant_id: str, contact_id: str) -> VoiceCall | None:
        """The contact's latest call; None when the contact never had one."""
        try:
            entry = await self._kv.get(f"voicecall.{tenant_id}.{contact_id}")
        except KeyNotFoundError:
            return None
        call_sid = (entry.value or b"").decode()
        return await self.get(tenant_id, call_sid) if call_sid else None

    async def answered(
        self,
        tenant_id: str,
        *,
        call_sid: str,
        contact_id: str,
        endpoint: str,
        queued: bool,
        wait_url: str = "",
    ) -> VoiceCall:
        """Remember a call the gateway answered (each webhook step; Twilio's retries too)."""

        def change(current: VoiceCall | None) -> VoiceCall:
            call = current or VoiceCall(call_sid=call_sid, contact_id=contact_id, endpoint=endpoint)
            return call.answered(queued=queued, wait_url=wait_url)

        _, call = await self.change(tenant_id, call_sid, change)
        assert call is not None
        await self._kv.put(f"voicecall.{tenant_id}.{contact_id}", call_sid.encode())
        return call

    async def change(
        self, tenant_id: str, call_sid: str, change: Callable[[VoiceCall | None], VoiceCall | None]
    ) -> tuple[VoiceCall | None, VoiceCall | None]:
        """Apply `change` (None: leave as is) with the revision read; (before, after)."""
        key = _call_key(tenant_id, call_sid)
        for _ in range(RECORD_ATTEMPTS):
            before, revision = await self._read(key)
            after = change(before)
            if after is None or after == before:
                return before, before
            try:
                if revision == 0:
                    await self._kv.create(key, after.to_json())
                else:
                    await self._kv.update(key, after.to_json(), last=revision)
            except KeyWrongLastSequenceError:
                continue
            return before, after
        raise CallRecordBusy(f"call {call_sid} kept changing during {RECORD_ATTEMPTS} attempts")

    async def _read(self, key: str) -> tuple[VoiceCall | None, int]:
        try:
            entry = await self._kv.get(key)
        except KeyNotFoundError:
            return None, 0
        if not entry.value:
            return None, 0
        return VoiceCall.from_json(entry.value), int(entry.revision or 0)


def _call_key(tenant_id: str, call_sid: str) -> str:
    # Twilio's CallSids are `CA` + 32 hex digits; anything else is hashed into a valid key.
    plain = call_sid.isascii() and call_sid.isalnum() and len(call_sid) <= 64
    token = call_sid if plain else _digest(call_sid)
    return f"call.{tenant_id}.{token}"


def _digest(value: str) -> str:
    return "h" + hashlib.sha256(value.encode()).hexdigest()[:40]
