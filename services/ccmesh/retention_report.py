"""What expires when in a region: each data class of `ccmesh.retention.DATA_CLASSES` (and each store
of the region), the rule that removes it, and, read from nats-server, how much of it is stored
and when its oldest record goes.

Expiry is enforced by nats-server itself (a store's maximum age, a finished record's per-key
TTL); this only reads the stores' state, so the report says what the server will do, not what a
sweeper might. The oldest record of a store with a maximum age expires at its write time plus
that age, which is when the next removal happens.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from nats.aio.client import Client as NATS

from ccmesh.retention import DATA_CLASSES, STORES, Enforcement, RetentionPolicy, StoreClass
from ccmesh.stores import stream_name

#: nats-server's "no time" (an empty stream's first message time).
_ZERO_TIME = "0001-01-01T00:00:00Z"
_API_TIMEOUT_SECONDS = 5.0
_SERVER_TIME = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)")


class StoreStateError(RuntimeError):
    """nats-server did not say what a store holds; the message names the store."""


@dataclass(frozen=True)
class StoreState:
    messages: int
    bytes: int
    #: When the oldest stored message was written; None when the store is empty.
    oldest: datetime | None


@dataclass(frozen=True)
class ReportRow:
    #: The data class's key (or the store's, in the per-store listing).
    name: str
    holds: str
    #: The store's name on nats-server (a bucket's or object store's stream has a prefix).
    store: str
    enforcement: Enforcement
    #: Seconds a record stays (after it finished, for finished-TTL); 0: kept until erased.
    kept_seconds: int
    #: The ContactCenter field that sets it.
    setting: str
    #: None when the store does not exist (yet) on the server.
    state: StoreState | None
    #: When the oldest stored record expires (max-age classes with data); None otherwise.
    next_expiry: datetime | None

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "holds": self.holds,
            "store": self.store,
            "enforcement": self.enforcement.value,
            "keptSeconds": self.kept_seconds,
            "setting": self.setting,
            "messages": self.state.messages if self.state else None,
            "bytes": self.state.bytes if self.state else None,
            "oldest": _iso(self.state.oldest) if self.state else None,
            "nextExpiry": _iso(self.next_expiry),
        }


def report_rows(policy: RetentionPolicy, region: str, observed: Mapping[str, StoreState]) -> list[ReportRow]:
    """One row per data class, with the state of its store from `observed` (by stream name)."""
    rows = []
    for data_class in DATA_CLASSES:
        row = _row(data_class.key, data_class.holds, data_class.store_class, policy, region, observed)
        if data_class.enforcement(policy) is Enforcement.MESSAGE_TTL:
            # Each message carries its own time to live; the stream's oldest message may be of
            # another class, so no next expiry is derived from it.
            row = replace(
                row,
                enforcement=Enforcement.MESSAGE_TTL,
                kept_seconds=data_class.kept_seconds(policy),
                setting=data_class.setting(policy),
                next_expiry=None,
            )
        rows.append(row)
    return rows


def store_rows(policy: RetentionPolicy, region: str, observed: Mapping[str, StoreState]) -> list[ReportRow]:
    """One row per store of the region (dead letters, idempotency records... as well)."""
    return [_row(store.key, store.holds, store, policy, region, observed) for store in STORES]


def _row(
    name: str,
    holds: str,
    store: StoreClass,
    policy: RetentionPolicy,
    region: str,
    observed: Mapping[str, StoreState],
) -> ReportRow:
    stream = stream_name(store, region)
    state = observed.get(stream)
    enforcement = policy.enforcement(store.key)
    kept = policy.kept_seconds(store.key)
    next_expiry = None
    if enforcement is Enforcement.MAX_AGE and state is not None and state.oldest is not None:
        next_expiry = state.oldest + timedelta(seconds=kept)
    return ReportRow(
        name=name,
        holds=holds,
        store=stream,
        enforcement=enforcement,
        kept_seconds=kept,
        setting=policy.setting(store.key),
        state=state,
        next_expiry=next_expiry,
    )


async def observe_stores(nc: NATS, region: str) -> dict[str, StoreState]:
    """The state of every store of `region`, by stream name; a store that does not exist is
    left out."""
    observed: dict[str, StoreState] = {}
    for name in (stream_name(store, region) for store in STORES):
        state = await _stream_state(nc, name)
        if state is not None:
            observed[name] = state
    return observed


async def _stream_state(nc: NATS, name: str) -> StoreState | None:
    # The raw API answer: nats-py's StreamState leaves out the first message's time.
    reply = await nc.request(f"$JS.API.STREAM.INFO.{name}", b"", timeout=_API_TIMEOUT_SECONDS)
    try:
        info = orjson.loads(reply.data)
    except orjson.JSONDecodeError:
        raise StoreStateError(f"stream {name!r}: nats-server answered with no JSON") from None
    error = info.get("error")
    if error is not None:
        if error.get("code") == 404:
            return None
        raise StoreStateError(f"stream {name!r}: {error.get('description', error)}")
    state = info.get("state", {})
    messages = int(state.get("messages", 0))
    first = state.get("first_ts") or _ZERO_TIME
    oldest = None if messages == 0 or first == _ZERO_TIME else parse_server_time(first)
    return StoreState(messages=messages, bytes=int(state.get("bytes", 0)), oldest=oldest)


def parse_server_time(text: str) -> datetime:
    """An RFC 3339 time as nats-server writes it (nanoseconds), to the microsecond."""
    found = _SERVER_TIME.fullmatch(text)
    if found is None:
        raise StoreStateError(f"nats-server wrote an unreadable time {text!r}")
    whole, fraction, zone = found.groups()
    micros = (fraction or "")[:6].ljust(6, "0")
    return datetime.fromisoformat(f"{whole}.{micros}{'+00:00' if zone == 'Z' else zone}").astimezone(UTC)


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None
