"""Whether the process that holds something (a claim, a lease) is still alive.

A holder answers on its own subject for as long as it can still finish what it holds: a
`Presence` is started before the holder takes anything and stopped after its in-flight work
has drained. Service discovery (`$SRV.PING`) is not used for this: it answers only while the
mesh takes requests, which starts after a service's HTTP edge and stops before it drains.

Another process asks with `presence_of`: NATS answers "no responders" at once when nobody
listens, which is what a killed process leaves (the server drops its connection when the
socket closes). A timeout is not taken as death: a busy or partitioned holder may still
finish, so the caller falls back to its own upper bound.

    presence = Presence(nc)                      # presence.holder goes into each claim
    await presence.start()
    if await presence_of(nc, claim_holder) is Liveness.GONE: ...take the claim over...
"""

from __future__ import annotations

import asyncio
import enum
import uuid

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError

from ccmesh import naming

#: How long a living holder has to answer; slower counts as unknown, never as gone.
ANSWER_TIMEOUT_SECONDS = 1.0
#: "Gone" is asked again after this long before it is believed: after a NATS restart a living
#: holder may not have re-subscribed yet when the asker already has (clients retry every 0.5 s).
CONFIRM_AFTER_SECONDS = 1.0


class Liveness(enum.Enum):
    ALIVE = "alive"
    GONE = "gone"
    UNKNOWN = "unknown"


class Presence:
    """This process's answer to "are you still there?" under a holder id unique to the process
    (a restarted process is a new holder: what the old one held is gone with it)."""

    def __init__(self, nc: Client, holder: str | None = None) -> None:
        self._nc = nc
        self.holder = holder or uuid.uuid4().hex
        self._subscription: Subscription | None = None

    async def start(self) -> None:
        async def answer(msg: Msg) -> None:
            if msg.reply:
                await self._nc.publish(msg.reply, b"")

        self._subscription = await self._nc.subscribe(naming.presence_subject(self.holder), cb=answer)
        await self._nc.flush()

    async def stop(self) -> None:
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            await subscription.unsubscribe()

    async def liveness_of(self, holder: str) -> Liveness:
        """Whether another holder is still there, asked over this process's connection."""
        return await presence_of(self._nc, holder)


async def presence_of(
    nc: Client,
    holder: str,
    *,
    timeout: float = ANSWER_TIMEOUT_SECONDS,
    confirm_after: float = CONFIRM_AFTER_SECONDS,
) -> Liveness:
    """ALIVE when the holder answers, GONE when nobody listens (asked twice, `confirm_after`
    apart), UNKNOWN when the question itself fails (a timeout, the connection down)."""
    liveness = await _ask(nc, holder, timeout)
    if liveness is Liveness.GONE and confirm_after > 0:
        await asyncio.sleep(confirm_after)
        liveness = await _ask(nc, holder, timeout)
    return liveness


async def _ask(nc: Client, holder: str, timeout: float) -> Liveness:
    try:
        await nc.request(naming.presence_subject(holder), b"", timeout=timeout)
    except NoRespondersError:
        return Liveness.GONE
    except (NatsTimeoutError, TimeoutError):
        return Liveness.UNKNOWN
    except Exception:  # the connection is down or closing: nothing can be concluded
        return Liveness.UNKNOWN
    return Liveness.ALIVE
