"""JetStream publishes sent back to back, their acknowledgements awaited later.

nats.py's `publish_async` never settles its future when the server refuses the message: the
refusal is raised inside its reply handler instead (`APIError.from_error` raises). A stream
electing its leader, a full stream or a wrong expected sequence then cost the caller its whole
timeout instead of an error at once. Here each publish is a task running nats.py's `publish`
(a request): the tasks run in the order they were made and each queues its message before its
first suspension, so the messages leave in order, and a refusal is raised where it is awaited.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from nats.js import api
from nats.js.client import JetStreamContext


def publish_pipelined(
    js: JetStreamContext,
    subject: str,
    payload: bytes,
    *,
    headers: Mapping[str, str] | None = None,
    timeout: float,
) -> asyncio.Task[api.PubAck]:
    """Start publishing; the task's result is the acknowledgement (or the server's refusal)."""
    return asyncio.ensure_future(
        js.publish(subject, payload, timeout=timeout, headers=dict(headers) if headers else None)
    )
