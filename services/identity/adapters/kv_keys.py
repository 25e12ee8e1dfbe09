"""List the keys of a bucket that match a subject pattern, reading only those keys.

nats-py's `KeyValue.keys(filters=...)` watches the whole bucket and filters by substring;
this asks the server for the pattern, so the cost follows the matches, not the bucket size.
"""

from __future__ import annotations

from nats.js.kv import KeyValue


async def matching_keys(kv: KeyValue, pattern: str) -> list[str]:
    watcher = await kv.watch(pattern, ignore_deletes=True, meta_only=True)
    keys: list[str] = []
    try:
        while True:
            entry = await watcher.updates(timeout=5.0)  # type: ignore[no-untyped-call,unused-ignore]
            if entry is None:  # the initial values are all delivered
                break
            keys.append(entry.key)
    finally:
        await watcher.stop()  # type: ignore[no-untyped-call,unused-ignore]
    return keys
