"""Shared pieces of the crash-between-steps tests: a sink that dies on the announcement (the
process gone right after the state write), and what the event stream holds for a subject."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from nats.js.client import JetStreamContext
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

from ccmesh import naming
from ccmesh.events import StreamSettings, ensure_region_streams
from ccmesh.outbox import marker_key

REGION = "eu"
TENANT = "acme"
#: How long an outbox entry waits for its writer before a sweeper sends it.
SWEEP_AFTER = 0.3


class Crashed(BaseException):
    """The writer is gone: nothing after its first write runs, not even its error handling
    (hence no `Exception`, which a retry loop would catch)."""


def dying_on(
    kinds: tuple[type, ...], then: Callable[[Any], Awaitable[None]]
) -> Callable[[Any], Awaitable[None]]:
    """An event sink that crashes on the first event of `kinds` (and every one after it, as a
    dead process would); events before it go to `then`."""
    dead: list[bool] = []

    async def sink(event: Any) -> None:
        if dead or isinstance(event, kinds):
            dead.append(True)
            raise Crashed(f"gone before publishing {type(event).__name__}")
        await then(event)

    return sink


async def region_streams(js: JetStreamContext) -> None:
    await ensure_region_streams(js, REGION, StreamSettings())


async def stored(js: JetStreamContext, subject: str) -> int:
    """How many messages the region's event stream holds on `subject`."""
    info = await js.stream_info(naming.events_stream(REGION).name, subjects_filter=subject)
    return int((info.state.subjects or {}).get(subject, 0))


def event_subject(kind: str, contact_id: str) -> str:
    return naming.event_subject(REGION, TENANT, kind, contact_id)


async def marked(kv: KeyValue, key: str) -> bool:
    """Whether the record `key` still has a marker naming it to the sweepers."""
    try:
        return bool((await kv.get(marker_key(key))).value)
    except KeyNotFoundError:
        return False
