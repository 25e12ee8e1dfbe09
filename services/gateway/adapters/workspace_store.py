"""What the sockets must remember across reconnects, in the region's gateway KV bucket.

`visitor.<tenant>.<visitor>`  the web chat visitor's current contact, so a reload shows it.
`desk.<tenant>.<agent>`       the contacts an agent holds (accepted, not yet wrapped up) with
                              their reservation: the proof that the agent may write to them,
                              and what a reconnected workspace gets back.
Writes use the entry's revision, so two gateway replicas never lose each other's change. A desk
this process last read or wrote is changed from what it knows (with that revision) instead of
being read again first: a desk another replica changed since costs one refused write and a read.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import orjson
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

_SAFE = re.compile(r"^[A-Za-z0-9_=-]{1,64}$")
_ATTEMPTS = 20
#: Desks remembered as this process last read or wrote them (most recent kept).
KNOWN_DESKS = 4096


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
    def __init__(self, kv: KeyValue, known_desks: int = KNOWN_DESKS) -> None:
        self._kv = kv
        #: desk key -> (desk, revision; None: no entry) as last read or written here.
        self._known: OrderedDict[str, tuple[Desk, int | None]] = OrderedDict()
        self._known_desks = known_desks

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
        return dict(desk)  # the caller's copy: the one remembered stays as stored

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
            desk: Desk = {}
            revision: int | None = None
        else:
            raw = orjson.loads(entry.value or b"{}")
            desk, revision = {cid: HeldContact(**item) for cid, item in raw.items()}, entry.revision
        self._remember(key, desk, revision)
        return desk, revision

    async def _change(self, key: str, change: Callable[[Desk], Desk]) -> None:
        known = self._known.pop(key, None)
        for _ in range(_ATTEMPTS):
            desk, revision = known if known is not None else await self._read(key)
            known = None
            changed = change(desk)
            # orjson writes a dataclass as the dict `asdict` makes, without its deep copy: an agent
            # holding many contacts rewrites them all at each change.
            value = orjson.dumps(changed)
            try:
                if revision is None:
                    written = await self._kv.create(key, value)
                else:
                    written = await self._kv.update(key, value, last=revision)
            except KeyWrongLastSequenceError:
                self._known.pop(key, None)
                continue  # another replica wrote meanwhile: read again and re-apply
            except BaseException:
                self._known.pop(key, None)  # it may have landed: the next change reads first
                raise
            self._remember(key, changed, int(written))
            return
        raise RuntimeError(f"{key}: too many concurrent changes")

    def _remember(self, key: str, desk: Desk, revision: int | None) -> None:
        self._known[key] = (desk, revision)
        self._known.move_to_end(key)
        while len(self._known) > self._known_desks:
            self._known.popitem(last=False)
