"""The access audit log: who read customer data or changed something, what, when, where, as what.

One record for every call a person or an integration makes (the access check of every RPC
writes it, `ccmesh.access`) and for every config-plane change (`ccctl apply`). Calls between
platform services (the `service` role) are not recorded: they act for someone whose own call is.

Records go to the region's own stream (`audit-<region>`, subject `ccaudit.<region>.<tenant>`),
which has its own retention row (`auditLog` in `ccmesh.retention`) and is never touched by
erasure or event retention. The stream is append-only: the platform never deletes from it; only
its maximum age removes records.

The check must stay cheap on every RPC, so `AuditLog.append` only queues the record; a
background task publishes batches with pipelined acknowledgements, many records a message
(`pack`). A record is kept until JetStream acknowledged it: a failed batch is retried with the
same message ids, so the stream's duplicate window keeps a retry from writing a record twice. A
full queue makes callers wait rather than dropping records.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from nats.js.client import JetStreamContext

from ccmesh import naming
from ccmesh.js_publish import publish_pipelined

log = logging.getLogger(__name__)

READ, CHANGE = "read", "change"
ALLOWED, DENIED = "allowed", "denied"
KINDS = frozenset({READ, CHANGE})
#: Records packed into one stream message: one publish and one acknowledgement for many records
#: (a record is a few hundred bytes, so a message stays far below NATS's 1 MiB payload limit).
RECORDS_PER_MESSAGE = 256
#: A record's position in the log is `stream sequence * POSITION_STRIDE + its line in the message`.
POSITION_STRIDE = 1024
OUTCOMES = frozenset({ALLOWED, DENIED})

#: Method verbs that only read; every other method may change something.
_READ_VERBS = (
    "Get",
    "List",
    "Query",
    "Search",
    "Export",
    "Explain",
    "Lookup",
    "Read",
    "Describe",
    "Stream",
    "Watch",
    "Verify",
)
#: Request fields that name what a call is about, in the order they are reported.
_TARGET_FIELDS = (
    "customer_id",
    "source_customer_id",
    "target_customer_id",
    "contact_id",
    "queue",
    "agent_id",
    "subscription_id",
    "journey_id",
    "flow_id",
    "document",
)


def kind_of(action: str) -> str:
    """`read` or `change` for a method path (`/pkg.Service/GetQueueStats`), an HTTP request
    (`GET /v1/tenants/acme/queues`) or another action (`config.apply ...`)."""
    if action.startswith(("GET ", "HEAD ")):
        return READ
    verb = action[action.rfind("/") + 1 :]
    return READ if verb.startswith(_READ_VERBS) else CHANGE


def target_of(request: Any) -> str:
    """`customer_id=c-1 queue=billing`: the identifiers a request names (never free text)."""
    descriptor = getattr(request, "DESCRIPTOR", None)
    if descriptor is None:
        return ""
    fields = descriptor.fields_by_name
    parts = []
    for name in _TARGET_FIELDS:
        described = fields.get(name)
        if described is None or described.is_repeated:
            continue
        value = getattr(request, name)
        if described.type == described.TYPE_MESSAGE:
            # A definition being changed (a queue, an agent): named by its `name` field.
            value = getattr(value, "name", "") if request.HasField(name) else ""
        if isinstance(value, str) and value:
            parts.append(f"{name}={value}")
    if "tenant" in fields and hasattr(request.tenant, "brand_id"):
        brand = request.tenant.brand_id
        if brand:
            parts.append(f"brand_id={brand}")
    return " ".join(parts)


@dataclass(slots=True)
class AuditRecord:
    """One read or change. `target` is derived from `request` when the record is written."""

    at: float
    region: str
    tenant_id: str
    actor: str
    role: str
    action: str
    outcome: str = ALLOWED
    target: str = ""
    reason: str = ""
    kind: str = ""
    #: The call's request message, read for `target` off the hot path; not serialised.
    request: Any = field(default=None, repr=False)
    #: Unique per record: the stream's duplicate window drops a retried record.
    record_id: str = ""

    def finish(self) -> None:
        if not self.kind:
            self.kind = kind_of(self.action)
        if not self.target and self.request is not None:
            self.target = target_of(self.request)
        self.request = None

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "id": self.record_id,
                "at": self.at,
                "region": self.region,
                "tenant": self.tenant_id,
                "actor": self.actor,
                "role": self.role,
                "kind": self.kind,
                "action": self.action,
                "target": self.target,
                "outcome": self.outcome,
                "reason": self.reason,
            }
        )

    @classmethod
    def from_json(cls, data: bytes) -> AuditRecord:
        raw = orjson.loads(data)
        return cls(
            at=float(raw["at"]),
            region=raw["region"],
            tenant_id=raw["tenant"],
            actor=raw["actor"],
            role=raw["role"],
            action=raw["action"],
            outcome=raw.get("outcome", ALLOWED),
            target=raw.get("target", ""),
            reason=raw.get("reason", ""),
            kind=raw.get("kind", ""),
            record_id=raw.get("id", ""),
        )


class AuditLog:
    """Queues records and publishes them in batches to the region's audit stream."""

    def __init__(
        self,
        js: JetStreamContext,
        region: str,
        *,
        max_pending: int = 100_000,
        batch_size: int = 500,
        ack_timeout_seconds: float = 5.0,
    ) -> None:
        #: The region's JetStream, which the audit log's readers query too.
        self.js = js
        self.region = region
        self._queue: asyncio.Queue[AuditRecord] = asyncio.Queue(max_pending)
        self._batch_size = batch_size
        self._ack_timeout = ack_timeout_seconds
        self._task: asyncio.Task[None] | None = None
        self._ids = itertools.count(1)
        self._id_prefix = f"{os.getpid():x}-{time.time_ns():x}-"
        #: Records acknowledged by the stream, and batches retried after a failure.
        self.written = 0
        self.retries = 0

    async def append(self, record: AuditRecord) -> None:
        """Queue `record`; waits only while the queue is full (the stream is unreachable)."""
        record.record_id = f"{self._id_prefix}{next(self._ids)}"
        try:
            self._queue.put_nowait(record)
        except asyncio.QueueFull:
            await self._queue.put(record)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"audit-{self.region}")

    async def flush(self) -> None:
        """Wait until every record queued so far is in the stream."""
        await self._queue.join()

    async def stop(self, grace_seconds: float = 5.0) -> None:
        """Write what is queued (within `grace_seconds`), then stop."""
        if self._task is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.flush(), grace_seconds)
        if self._queue.qsize():
            log.error("audit log of %s: %d records not written at stop", self.region, self._queue.qsize())
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._batch_size and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            await self._write(batch)
            for _ in batch:
                self._queue.task_done()

    async def _write(self, batch: list[AuditRecord]) -> None:
        messages = pack(self.region, batch)
        delay = 0.1
        while True:
            try:
                futures = [
                    publish_pipelined(
                        self.js, subject, data, headers={"Nats-Msg-Id": message_id}, timeout=self._ack_timeout
                    )
                    for subject, data, message_id in messages
                ]
                # Every outcome collected (none left unretrieved); the first refusal is the error.
                outcomes = await asyncio.wait_for(
                    asyncio.gather(*futures, return_exceptions=True), self._ack_timeout
                )
                refused = next((o for o in outcomes if isinstance(o, BaseException)), None)
                if refused is not None:
                    raise refused
                self.written += len(batch)
                return
            except asyncio.CancelledError:
                raise
            except Exception as error:  # kept and retried: an audit record is never dropped
                self.retries += 1
                log.warning(
                    "audit log of %s: batch of %d not written (%r); retrying",
                    self.region,
                    len(batch),
                    error,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)


def pack(region: str, batch: list[AuditRecord]) -> list[tuple[str, bytes, str]]:
    """The batch as stream messages: per tenant, up to `RECORDS_PER_MESSAGE` records a message,
    one JSON object a line, oldest first. Each message's id is its first record's id and its
    count, so a retried message is recognised by the stream's duplicate window."""
    by_tenant: dict[str, list[AuditRecord]] = {}
    for record in batch:
        record.finish()
        by_tenant.setdefault(record.tenant_id, []).append(record)
    messages = []
    for tenant, records in by_tenant.items():
        subject = naming.audit_subject(region, tenant)
        for start in range(0, len(records), RECORDS_PER_MESSAGE):
            chunk = records[start : start + RECORDS_PER_MESSAGE]
            data = b"\n".join(record.to_json() for record in chunk)
            messages.append((subject, data, f"{chunk[0].record_id}+{len(chunk)}"))
    return messages


def unpack(data: bytes) -> list[AuditRecord]:
    """The records of one stream message, in the order they were written."""
    return [AuditRecord.from_json(line) for line in data.split(b"\n") if line]
