"""Creating streams, buckets and consumers on a cluster that may still be starting.

Every service creates the region's stores on start, so on an empty cluster several processes
create the same stream at the same moment, while the cluster may still be electing its meta
leader. `retry_creation` runs an idempotent check-and-create again after a transient failure
(a timeout, no responders, JetStream temporarily unavailable, a stream of that name created
a moment ago by someone else, or a placement refused only because a server is offline, as while
one restarts), with jittered back-off, for up to a budget; any other failure is raised at once,
so a real misconfiguration (no server matches the placement) is named quickly.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import nats.errors
import nats.js.errors
from nats.js.errors import APIError

#: Server error codes worth another try while streams are being created: the JetStream system
#: is temporarily unavailable (no meta leader yet), and a stream of that name was created by
#: someone else a moment ago (with another configuration: the next attempt updates it).
_TRANSIENT_CREATION_CODES = frozenset({10008, 10058})
#: nats-server's "no suitable peers for placement", followed by its reasons. When the one reason
#: is a server it counts as offline (restarting, or rejoining and not yet seen by the others),
#: the placement fits once that server is back; any other reason (tags not matched, too few
#: servers, no space) is a misconfiguration.
NO_SUITABLE_PEERS = 10005
_PEER_OFFLINE_ONLY = "no suitable peers for placement, peer offline"
#: How long a creation keeps retrying before it reports the last error.
CREATION_BUDGET_SECONDS = 60.0

_T = TypeVar("_T")

log = logging.getLogger(__name__)


def _transient(err: BaseException) -> bool:
    """A failure another attempt may not meet: the cluster is starting or busy, a server is
    restarting, or someone else created the same stream a moment ago."""
    if isinstance(err, (nats.errors.TimeoutError, nats.errors.NoRespondersError, asyncio.TimeoutError)):
        return True
    if isinstance(err, nats.js.errors.ServiceUnavailableError):
        return True
    if not isinstance(err, APIError):
        return False
    if err.err_code == NO_SUITABLE_PEERS:
        return (err.description or "").strip() == _PEER_OFFLINE_ONLY
    return err.err_code in _TRANSIENT_CREATION_CODES


async def retry_creation(
    what: str, operation: Callable[[], Awaitable[_T]], *, budget_seconds: float = CREATION_BUDGET_SECONDS
) -> _T:
    """Run `operation` (which checks what exists and creates or updates it) until it succeeds,
    retrying transient failures with jittered back-off for up to `budget_seconds`.

    `operation` must be idempotent: after a timeout the stream may exist, and the next attempt
    finds it. Other failures are raised at once.
    """
    deadline = time.monotonic() + budget_seconds
    attempt = 0
    while True:
        try:
            return await operation()
        except Exception as err:
            if not _transient(err) or time.monotonic() >= deadline:
                raise
            attempt += 1
            delay = min(0.05 * 2**attempt, 2.0) * (0.5 + random.random())  # noqa: S311 - jitter, not crypto
            log.info("creating %s: %s; trying again in %.2fs", what, _describe(err), delay)
            await asyncio.sleep(delay)


def _describe(err: BaseException) -> str:
    return getattr(err, "description", None) or type(err).__name__
