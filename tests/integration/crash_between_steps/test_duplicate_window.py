"""The streams a sweeper republishes to keep a duplicate window far longer than the sweep
delay (an entry is sent again at most about two sweep intervals after it was staged), so a
republished message that its writer had published is dropped, never stored twice."""

from __future__ import annotations

from nats.aio.client import Client as NATS

from ccmesh import naming
from ccmesh.outbox import DEFAULT_AFTER_SECONDS

from ._steps import REGION, region_streams

#: Room for sweepers that were all down for an hour, not only the usual sweep delay.
HOUR = 3600.0


async def test_events_and_actions_keep_a_duplicate_window_beyond_the_sweep(nc: NATS) -> None:
    js = nc.jetstream()
    await region_streams(js)
    for stream in (naming.events_stream(REGION), naming.actions_stream(REGION)):
        window = (await js.stream_info(stream.name)).config.duplicate_window or 0.0
        assert window >= max(HOUR, 2 * DEFAULT_AFTER_SECONDS), f"{stream.name}: {window} s"
