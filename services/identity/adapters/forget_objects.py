"""Remove every object of a region's object stores (recordings, attachments, training sets) that
belongs to a person, for an erasure.

An object belongs to the person when its name, description, headers or metadata mention one of
their identifiers, their customer id or one of their contacts (recordings are named after the
contact), when one of their events refers to it (attachments are stored by content), or when
its content mentions them (a text attachment quoting their e-mail; recordings, being audio, are
not read). Content is read once, chunk by chunk, straight from the store's stream; a needle
split across two chunks is still found, as the end of each chunk is kept to search with the next.

A found object's chunks and description are purged from the stream: an ordinary delete would
keep a marker carrying the object's name. The legal-hold store is left alone: an erasure is
refused while a hold covers the person.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import orjson
from nats.js.api import ObjectInfo
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError

from ccmesh import naming
from ccmesh.retention_holds import holds_bucket
from ccmesh.stores import OBJECT_STREAM_PREFIX, list_objects, purge_object, region_object_stores
from ccmesh.stream_read import stored

#: Chunks asked for per fetch: each may be as large as the store's chunk size.
_CHUNKS_PER_FETCH = 16


class ObjectStoreEraser:
    def __init__(self, js: JetStreamContext, region: str) -> None:
        self._js = js
        self._region = region

    async def erase(self, needles: Sequence[bytes]) -> dict[str, int]:
        """Objects removed per object store's stream (stores with none left out)."""
        wanted = [n for n in needles if n]
        removed: dict[str, int] = {}
        if not wanted:
            return removed
        for bucket in await region_object_stores(self._js, self._region):
            if bucket == holds_bucket(self._region):
                continue
            infos = await list_objects(self._js, bucket)
            if not infos:
                continue
            # Audio holds no text to find: recordings are found by name and by the events naming
            # them, without reading every call's bytes.
            audio = bucket == naming.recordings_bucket(self._region)
            mentioned = set() if audio else await self._chunks_mentioning(bucket, wanted)
            count = 0
            for info in infos:
                if info.nuid in mentioned or _describes(info, wanted):
                    await purge_object(self._js, bucket, info)
                    count += 1
            if count:
                removed[f"{OBJECT_STREAM_PREFIX}{bucket}"] = count
        return removed

    async def _chunks_mentioning(self, bucket: str, needles: list[bytes]) -> set[str]:
        """The ids (nuids) of the objects whose content contains a needle."""
        stream = f"{OBJECT_STREAM_PREFIX}{bucket}"
        try:
            info = await self._js.stream_info(stream)
        except NotFoundError:
            return set()
        if not info.state.messages:
            return set()
        last = int(info.state.last_seq)
        overlap = max(len(n) for n in needles) - 1
        tails: dict[str, bytes] = {}
        found: set[str] = set()
        prefix = f"$O.{bucket}.C."
        reading = stored(self._js, f"{prefix}>", stream=stream, batch=_CHUNKS_PER_FETCH)
        async with contextlib.aclosing(reading) as messages:
            async for message in messages:
                nuid = message.subject[len(prefix) :]
                data = tails.get(nuid, b"") + (message.data or b"")
                if nuid not in found and any(needle in data for needle in needles):
                    found.add(nuid)
                tails[nuid] = data[-overlap:] if overlap else b""
                if message.metadata.sequence.stream >= last:
                    break
        return found


def _describes(info: ObjectInfo, needles: list[bytes]) -> bool:
    # Name, description, headers and options as stored (the name is base64 in the subject only).
    described = orjson.dumps(info.as_dict(), default=str)
    return any(needle in described for needle in needles)
