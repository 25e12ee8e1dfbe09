"""The global identifier index: keyed hash of an identifier -> home region. No personal data.

    g.<scope>.<kind>.<hmac>  ->  b"eu"

Shared by every region (bucket `identity-global-index`); claimed with `create`, so the first
region that homes an identifier keeps it. A claim is its own lookup: a create that fails says the
identifier has a home, and the read nats-py makes of a key whose create failed (to tell a deleted
key) tells which, so a new identifier costs one write and no read.
"""

from __future__ import annotations

import contextlib

from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from ccmesh.kv import ReadYourWritesKV
from identity.domain.identifiers import Identifier
from identity.domain.residency import IndexKeys


class GlobalIndex:
    def __init__(self, kv: KeyValue, keys: IndexKeys) -> None:
        self._kv = kv
        self._keys = keys

    def _key(self, tenant_id: str, scope: str, identifier: Identifier) -> str:
        return f"g.{scope}.{self._keys.identifier_hash(tenant_id, identifier)}"

    async def home_of(self, tenant_id: str, scope: str, identifier: Identifier) -> str | None:
        try:
            entry = await self._kv.get(self._key(tenant_id, scope, identifier))
        except KeyNotFoundError:
            return None
        return entry.value.decode() if entry.value else None

    async def claim(self, tenant_id: str, scope: str, identifier: Identifier, region: str) -> None:
        # Already homed (here, or first in another region): the first claim stays.
        with contextlib.suppress(KeyWrongLastSequenceError):
            await self._kv.create(self._key(tenant_id, scope, identifier), region.encode())

    async def claim_home(self, tenant_id: str, scope: str, identifier: Identifier, region: str) -> str | None:
        """Home the identifier in `region` unless it has a home: None when this call homed it,
        else the region it has (`region` too when the entry vanished meanwhile: no one else's)."""
        key = self._key(tenant_id, scope, identifier)
        try:
            await self._kv.create(key, region.encode())
        except KeyWrongLastSequenceError:
            seen = self._kv.known(key) if isinstance(self._kv, ReadYourWritesKV) else None
            if seen is not None:
                return seen[0].decode()
            return await self.home_of(tenant_id, scope, identifier) or region
        return None

    async def forget(self, tenant_id: str, scope: str, identifier: Identifier, region: str) -> bool:
        """Remove the entry if it names this region; True when it did."""
        if await self.home_of(tenant_id, scope, identifier) != region:
            return False
        await self._kv.purge(self._key(tenant_id, scope, identifier))
        return True
