"""Find and remove every message of a region's streams and buckets that mentions a person.

Used by the right to erasure after the targeted purges: it reads each stream from start to
end and removes what still contains any of the person's identifiers, customer id or contact
ids. Event and dead-letter messages are deleted with the server's secure erase (the bytes are
overwritten on disk); KV entries are purged by key (KV streams deny single-message deletes).
It costs one pass over the region's data, which an erasure (rare, legally required) can afford.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass

from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError

from ccmesh import naming
from ccmesh.kv import open_bucket
from ccmesh.stores import OBJECT_STREAM_PREFIX, stream_names
from ccmesh.stream_read import stored


@dataclass(frozen=True)
class ScrubTarget:
    stream: str
    #: Subject filter covering the whole stream.
    subjects: str
    #: KV bucket name when the stream backs a bucket.
    bucket: str = ""


class RegionScrubber:
    """Scrubs the named targets plus every other stream named `<...>-<region>` found on the server,
    so buckets and streams that other services add to the region are covered too."""

    def __init__(self, js: JetStreamContext, targets: Sequence[ScrubTarget], region: str = "") -> None:
        self._js = js
        self._region = region
        # The access audit log names customers and contacts by id only (never an identifier or
        # free text) and must still answer "who read this customer's data" after an erasure.
        self._exempt = {naming.audit_stream(region).name} if region else set()
        self._targets = [t for t in targets if t.stream not in self._exempt]

    async def _all_targets(self) -> list[ScrubTarget]:
        targets = list(self._targets)
        if not self._region:
            return targets
        known = {t.stream for t in targets} | self._exempt
        for name in await stream_names(self._js):
            if not name or name in known or not name.endswith(f"-{self._region}"):
                continue
            if name.startswith("KV_"):
                bucket = name[len("KV_") :]
                targets.append(ScrubTarget(name, f"$KV.{bucket}.>", bucket=bucket))
            elif name.startswith(OBJECT_STREAM_PREFIX):
                # Object contents are the erasure's object pass (`ObjectStoreEraser`, which reads
                # no audio): only the descriptions are read here, delete markers naming a contact.
                bucket = name[len(OBJECT_STREAM_PREFIX) :]
                targets.append(ScrubTarget(name, f"$O.{bucket}.M.>"))
            else:
                targets.append(ScrubTarget(name, ">"))
        return targets

    async def scrub(self, needles: Sequence[bytes]) -> dict[str, int]:
        removed: dict[str, int] = {}
        wanted = [n for n in needles if n]
        for target in await self._all_targets():
            count = await self._scrub_one(target, wanted)
            if count:
                removed[target.stream] = count
        return removed

    async def _scrub_one(self, target: ScrubTarget, needles: list[bytes]) -> int:
        try:
            info = await self._js.stream_info(target.stream)
        except NotFoundError:
            return 0
        if not info.state.messages:
            return 0
        last = int(info.state.last_seq)
        hits: list[tuple[int, str]] = []
        # Up to the last message stored when the pass began, however long the server takes to
        # deliver it: a pass that stopped at a quiet moment would leave the rest unscrubbed.
        reading = stored(self._js, target.subjects, stream=target.stream)
        async with contextlib.aclosing(reading) as messages:
            async for message in messages:
                # A key or subject alone may name the person (a delivery log keyed by contact);
                # a delete or purge marker is the trace of a removal that already happened (and
                # keeps a redelivered event from writing the entry again), so it stays.
                marker = bool(message.headers and message.headers.get("KV-Operation"))
                data = (b"" if marker else message.subject.encode() + b" ") + (message.data or b"")
                if any(needle in data for needle in needles):
                    hits.append((message.metadata.sequence.stream, message.subject))
                if message.metadata.sequence.stream >= last:
                    break
        if target.bucket:
            prefix = f"$KV.{target.bucket}."
            keys = {subject[len(prefix) :] for _, subject in hits}
            kv = await open_bucket(self._js, target.bucket)
            for key in keys:
                await kv.purge(key)
            return len(hits)
        for sequence, _ in hits:
            with contextlib.suppress(NotFoundError):
                await self._js.delete_msg(target.stream, sequence)
        return len(hits)
