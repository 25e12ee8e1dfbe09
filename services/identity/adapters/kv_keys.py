"""List the keys of a bucket that match a subject pattern, reading only those keys.

nats-py's `KeyValue.keys(filters=...)` watches the whole bucket and filters by substring;
this asks the server for the pattern, so the cost follows the matches, not the bucket size.
"""

from __future__ import annotations

from nats.js.kv import KeyValue

from ccmesh.kv_watch import current_entries


async def matching_keys(kv: KeyValue, pattern: str) -> list[str]:
    return [entry.key for entry in await current_entries(kv, pattern, meta_only=True)]
