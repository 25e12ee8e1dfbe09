"""Fixtures of the integration tier, declared once for every test below this folder.

`platform` (`_platform.py`) runs the services in-process against the test's own nats-server;
`spans` (`_tracing.py`) collects the spans the test makes; `js` is a JetStream context on the
test's server with the `_mesh.REGION` region's streams made. A test names them as arguments and
imports nothing for them.
"""

from __future__ import annotations

import pytest
from _mesh import REGION
from _platform import platform
from _tracing import spans
from nats.aio.client import Client as NATS
from nats.js.client import JetStreamContext

from ccmesh.events import StreamSettings, ensure_region_streams

__all__ = ["js", "platform", "spans"]


@pytest.fixture
async def js(nc: NATS) -> JetStreamContext:
    context = nc.jetstream()
    await ensure_region_streams(context, REGION, StreamSettings())
    return context
