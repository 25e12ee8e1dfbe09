"""A JetStream publish the server refuses fails at once where it is awaited (nats.py's own
`publish_async` never settles such a future: the caller waited out its whole timeout)."""

from __future__ import annotations

import asyncio

import pytest
from nats.aio.client import Client as NATS
from nats.js.api import DiscardPolicy, StreamConfig
from nats.js.errors import APIError

from ccmesh.js_publish import publish_pipelined

#: Far longer than a refusal takes: reaching it means the refusal was never delivered.
NEVER = 20.0


async def test_a_refused_publish_fails_at_once_and_those_before_it_land(nc: NATS) -> None:
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name="full", subjects=["full.>"], max_msgs=2, discard=DiscardPolicy.NEW))
    tasks = [publish_pipelined(js, f"full.{n}", b"x", timeout=NEVER) for n in range(3)]
    first, second = await asyncio.wait_for(asyncio.gather(*tasks[:2]), NEVER / 2)
    assert (first.seq, second.seq) == (1, 2)  # in the order they were made
    with pytest.raises(APIError, match="maximum messages exceeded"):
        await asyncio.wait_for(tasks[2], NEVER / 2)
