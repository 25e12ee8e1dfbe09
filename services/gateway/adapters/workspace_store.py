"""What the sockets must remember across reconnects, in the region's gateway KV bucket.

`visitor.<tenant>.<visitor>`  the web chat visitor's current contact, so a reload shows it.
`desk.<tenant>.<agent>`       the contacts an agent holds (accepted, not yet wrapped up) with
                              their reservation: the proof that the agent may write to them,
                              and what a reconnected workspace gets back.
Writes use the entry's revision, so two gateway replicas never lose each other's change.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass

import orjson
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

_SAFE = re.compile(r"^[A-Za-z0-9_=-]{1,64}$")
_ATTEMPTS = 20


def _token(name: str) -> str:
    """A KV-safe key part: the name itself when it can be one, else its hash."""
    return name if _SAFE.match(name) else hashlib.sha256(name.encode()).hexdigest()[:40]


@dataclass(frozen=True)
class HeldContact:
    contact_id: str
    reservation_id: str
    queue: str
    channel: int
    customer_id: str
    #: The customer's brand: identity keeps isolated brands' customers apart.
    brand_id: str = ""
    #: Set for a contact handed over from another region: its conversation and channel legs
    #: are there, read and answered through that region's gateway.
    home_region: str = ""


Desk = dict[str, HeldContact]


class WorkspaceStore:
    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv

    async def visitor_contact(self, tenant_id: str, visitor_id: str) -> str | None:
        try:
            entry = await self._kv.get(f"visitor.{tenant_id}.{_token(visitor_id)}")
        except KeyNotFoundError:
            return None
        return (entry.value or b"").decode() or None

    async def remember_visitor_contact(self, tenant_id: str, visitor_id: str, contact_id: str) -> None:
        await self._kv.put(f"visitor.{tenant_id}.{_token(visitor_id)}", contact_id.encode())

    async def desk(self, tenant_id: str, agent_id: str) -> Desk:
        desk, _ = await self._read(self._desk_key(tenant_id, agent_id))
        return desk

    async def hold(self, tenant_id: str, agent_id: str, held: HeldContact) -> None:
        await self._change(self._desk_key(tenant_id, agent_id), lambda desk: {**desk, held.contact_id: held})

    async def release(self, tenant_id: str, agent_id: str, contact_id: str) -> None:
        await self._change(
            self._desk_key(tenant_id, agent_id),
            lambda desk: {k: v for k, v in desk.items() if k != contact_id},
        )

    @staticmethod
    def _desk_key(tenant_id: str, agent_id: str) -> str:
        return f"desk.{tenant_id}.{_token(agent_id)}"

    async def _read(self, key: str) -> tuple[Desk, int | None]:
        try:
            entry = await self._kv.get(key)
        except KeyNotFoundError:
            return {}, None
        raw = orjson.loads(entry.value or b"{}")
        return {cid: HeldContact(**item) for cid, item in raw.items()}, entry.revision

    async def _change(self, key: str, change: Callable[[Desk], Desk]) -> None:
        for _ in range(_ATTEMPTS):
            desk, revision = await self._read(key)
            value = orjson.dumps({cid: asdict(held) for cid, held in change(desk).items()})
            try:
                if revision is None:
                    await self._kv.create(key, value)
                else:
                    await self._kv.update(key, value, last=revision)
                return
            except KeyWrongLastSequenceError:
                continue  # another replica wrote meanwhile: read again and re-apply
        raise RuntimeError(f"{key}: too many concurrent changes")
