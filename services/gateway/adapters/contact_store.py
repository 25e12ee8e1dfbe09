"""Open contacts and idempotency records in the region's gateway KV bucket.

`open.<tenant>.<customer>` names the customer's open contact, created with `create`, so two
channels arriving at once still share one contact. `msg.<tenant>.<token>` records each
provider message: `pending` while it is processed, then the result, so a provider's retry
returns the first result instead of creating a second message.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from dataclasses import dataclass

import orjson
from nats.js.errors import APIError, KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from gateway.domain.inbound import Accepted

#: A pending claim older than this belonged to an instance that died; another may take over.
CLAIM_EXPIRY_SECONDS = 30.0


class StillProcessing(RuntimeError):
    """The same provider message is being processed right now by another request."""


@dataclass(frozen=True)
class Claim:
    key: str
    revision: int
    previous: Accepted | None


class ContactStore:
    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv

    async def claim_message(self, tenant_id: str, token: str) -> Claim:
        key = f"msg.{tenant_id}.{token}"
        pending = orjson.dumps({"state": "pending", "at": time.time()})
        try:
            return Claim(key, int(await self._kv.create(key, pending)), None)
        except KeyWrongLastSequenceError:
            pass
        entry = await self._kv.get(key)
        record = orjson.loads(entry.value or b"{}")
        if record.get("state") == "done":
            return Claim(key, int(entry.revision or 0), Accepted.from_json(orjson.dumps(record["result"])))
        if time.time() - float(record.get("at", 0)) < CLAIM_EXPIRY_SECONDS:
            raise StillProcessing(f"provider message is being processed (claim {key})")
        try:
            revision = await self._kv.update(key, pending, last=entry.revision)
        except KeyWrongLastSequenceError:
            raise StillProcessing(f"provider message was taken over concurrently (claim {key})") from None
        return Claim(key, int(revision), None)

    async def complete(self, claim: Claim, result: Accepted) -> None:
        record = orjson.dumps({"state": "done", "result": orjson.loads(result.to_json())})
        await self._kv.update(claim.key, record, last=claim.revision)

    async def release(self, claim: Claim) -> None:
        """Give the claim up after a failure, so the provider's retry can proceed at once."""
        # Already released, or taken over by another instance: nothing of ours to remove.
        with contextlib.suppress(KeyWrongLastSequenceError, KeyNotFoundError, APIError):
            await self._kv.delete(claim.key, last=claim.revision)

    async def open_contact(self, tenant_id: str, customer_id: str) -> tuple[str, bool]:
        """The customer's open contact, opening one if there is none."""
        key = f"open.{tenant_id}.{customer_id}"
        contact_id = uuid.uuid4().hex
        try:
            await self._kv.create(key, contact_id.encode())
            return contact_id, True
        except KeyWrongLastSequenceError:
            entry = await self._kv.get(key)
            return (entry.value or b"").decode(), False
