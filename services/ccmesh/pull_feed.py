"""A durable pull consumer's messages, asked for ahead of need.

nats.py's `fetch` asks the server afresh for every batch: a "no wait" pull, its "no messages"
answer, then a waiting pull that the next message answers. A consumer that sees a message now
and then (one per contact) pays two requests and a status reply per message, and an idle one
polls twice per poll interval: with the region's seventeen consumers, 136 messages a second
while nothing happens. `PullFeed` keeps pulls standing instead, as the newer NATS clients'
`consume` does (ADR-37): a pull asks for up to `batch` messages and stands for `expires`
seconds; when what is asked for and what is in hand falls to half a batch, one more pull tops it
up. The server answers an idle standing pull with a heartbeat every `heartbeat` seconds, so a
pull lost with its server (a restart, a new consumer leader) is noticed within a few of them and
asked again; after a reconnect it is asked again at once.

Messages in hand count against the consumer's ack wait from their delivery, as a fetched batch's
do; at most a batch is in hand. `close` hands back (naks) what was pulled and not taken, so a
stopping service leaves it to the next instance within `expires`, not after the ack wait (30 s
to 15 minutes, per consumer).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import Any

import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.client import JetStreamContext

from ccmesh.waiting import event_or_timeout

log = logging.getLogger(__name__)

#: How long one pull stands on the server. What a stopping feed hands back is redelivered once its
#: last pull has expired (it cannot be withdrawn, and would take the redelivery into the void), so
#: this also bounds that delay; an idle consumer re-asks once per this.
EXPIRES_SECONDS = 10.0
#: The server's heartbeat on an idle standing pull: missing three in a row means the pull is gone.
HEARTBEAT_SECONDS = 1.0
MISSED_HEARTBEATS = 3
#: How often a waiting take looks whether the connection was re-established meanwhile (a local
#: check, no request).
RECHECK_SECONDS = 0.25
#: The longest a take waits for the rest of a burst the server has begun to send.
BURST_SECONDS = 0.05
#: The pause before asking again after the server refused a pull (409: the consumer deleted or
#: moved, too many pulls waiting): such a refusal repeats if asked again at once.
REFUSED_PAUSE_SECONDS = 0.1

_NANOS = 1_000_000_000
#: What a bare status says (nats-server sends 503 without a description).
_STATUS_MEANING = {"503": "no responders (the consumer has no leader now)"}


class PullFeed:
    """Standing pulls on `stream`'s durable consumer `durable`; `take` hands out what arrives."""

    def __init__(
        self,
        nc: Client,
        api_prefix: str,
        stream: str,
        durable: str,
        *,
        batch: int,
        expires: float = EXPIRES_SECONDS,
        heartbeat: float = HEARTBEAT_SECONDS,
    ) -> None:
        if batch < 1:
            raise ValueError(f"batch {batch!r}: one message or more")
        if heartbeat * 2 > expires:
            raise ValueError(f"heartbeat {heartbeat!r} s: at most half of expires ({expires!r} s)")
        self._nc = nc
        self._next_subject = f"{api_prefix}.CONSUMER.MSG.NEXT.{stream}.{durable}"
        self._batch = batch
        self._expires = expires
        self._request_body = {"expires": int(expires * _NANOS), "idle_heartbeat": int(heartbeat * _NANOS)}
        self._pulled_at = -float("inf")
        self._silence = heartbeat * MISSED_HEARTBEATS
        self._inbox = nc.new_inbox()
        self._in_hand: deque[Msg] = deque()
        #: Set by what arrives (and by `close`): wakes a waiting take.
        self._arrived = asyncio.Event()
        #: Messages the standing pulls may still bring (what was asked minus what came or expired).
        self._asked = 0
        self._heard = time.monotonic()
        self._refused_at = -float("inf")
        self._refusal: str | None = None
        self._reconnects = 0
        self._subscription: Subscription | None = None
        self._closed = False
        #: Pulls sent: how often the server was asked (the point of this class).
        self.pulls = 0

    @classmethod
    def of(cls, js: JetStreamContext, stream: str, durable: str, *, batch: int) -> PullFeed:
        """The feed of `js`'s connection (its API prefix follows a JetStream domain)."""
        # nats-py's JetStreamContext has no public accessor for its connection and API prefix.
        return cls(js._nc, js._prefix, stream, durable, batch=batch)

    async def start(self) -> None:
        self._subscription = await self._nc.subscribe(self._inbox, cb=self._on_message)
        self._reconnects = self._nc.stats["reconnects"]

    async def take(self, most: int, wait: float) -> list[Msg]:
        """Up to `most` messages, in delivery order; waits up to `wait` seconds for the first
        (an empty list when none came, or when the feed closed).

        Pulls are topped up here, not as messages arrive: while the caller handles what it took,
        at most what was asked before stays on its way (a batch of one is not fetched ahead,
        so another instance that is idle gets the next message)."""
        await self._keep_standing()
        deadline = time.monotonic() + wait
        while not self._in_hand and not self._closed:
            left = deadline - time.monotonic()
            if left <= 0:
                return []
            # Nothing standing (a refused pull): ask again after the pause. Otherwise look again
            # soon: a reconnect is seen here, and the server may have dropped the pulls of a
            # connection it lost (no interest left), so asked again at once.
            pause = RECHECK_SECONDS if self._asked else REFUSED_PAUSE_SECONDS
            self._arrived.clear()
            if await event_or_timeout(self._arrived, min(left, pause)):
                await self._rest_of_burst(most)
            await self._keep_standing()
        return [self._in_hand.popleft() for _ in range(min(most, len(self._in_hand)))]

    async def _rest_of_burst(self, most: int) -> None:
        """The rest of what the server sent with the first message. A backlog answers a pull in
        one burst, which may span socket reads; each message says how many the consumer still
        has for us (`num_pending`), so a batch that was waiting reaches the handler whole, as
        `fetch` handed it over. Bounded: never more than `BURST_SECONDS` of waiting."""
        deadline = time.monotonic() + BURST_SECONDS
        while len(self._in_hand) < most and self._asked and not self._closed:
            try:
                if self._in_hand[-1].metadata.num_pending == 0:
                    return
            except (ValueError, IndexError):  # not a JetStream delivery: nothing to go by
                return
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._arrived.clear()
            if not await event_or_timeout(self._arrived, left):
                return

    async def close(self) -> int:
        """Stop pulling; hand back what was pulled and not taken. How many went back."""
        self._closed = True
        self._arrived.set()
        if self._subscription is not None:
            try:
                await self._subscription.unsubscribe()
            except Exception:  # the connection is already closed: nothing more can arrive
                log.debug("unsubscribing %s failed", self._inbox, exc_info=True)
        # A pull still standing would take an immediate redelivery to the inbox just dropped.
        after = max(self._pulled_at + self._expires - time.monotonic(), 0.0)
        handed_back = 0
        while self._in_hand:
            message = self._in_hand.popleft()
            try:
                await message.nak(delay=after)
                handed_back += 1
            except Exception:  # the ack wait redelivers it
                log.debug("nak of %s failed", message.reply, exc_info=True)
        return handed_back

    async def _on_message(self, message: Msg) -> None:
        self._heard = time.monotonic()
        status = message.headers.get("Status") if message.headers else None
        if status is None:
            self._refusal = None
            self._asked = max(self._asked - 1, 0)
            if self._closed:
                return  # in flight as the feed closed: redelivered after the ack wait
            self._in_hand.append(message)
            self._arrived.set()
            return
        if status == "100":
            return  # an idle heartbeat: the pull still stands
        if status == "408":
            # A pull expired (or its batch was cut short): what it still owed will not come.
            owed = _header_int(message, "Nats-Pending-Messages")
            self._asked = max(self._asked - owed, 0) if owed is not None else 0
        else:
            # 409 (the consumer moved to a new leader or was deleted, too many pulls waiting)
            # and anything else: every standing pull is in doubt; ask again after a pause.
            if status != self._refusal:
                # Said once per kind: asked again every pause, a deleted consumer answers alike.
                description = (message.headers or {}).get("Description", "").split("\r")[0].strip()
                log.info(
                    "pull on %s answered %s %s; asking again",
                    self._next_subject,
                    status,
                    description or _STATUS_MEANING.get(status, "(no description)"),
                )
                self._refusal = status
            self._asked = 0
            self._refused_at = time.monotonic()
        self._arrived.set()

    async def _keep_standing(self) -> None:
        """Ask again when the standing pulls are lost: a reconnect (the server may have restarted
        without them), or no message nor heartbeat for several heartbeats."""
        reconnects = self._nc.stats["reconnects"]
        if reconnects != self._reconnects:
            self._reconnects = reconnects
            self._asked = 0
        elif self._asked and time.monotonic() - self._heard > self._silence:
            log.info("pull on %s went silent; asking again", self._next_subject)
            self._asked = 0
        await self._top_up()

    async def _top_up(self) -> None:
        if self._closed or self._subscription is None:
            return
        wanted = self._batch - self._asked - len(self._in_hand)
        if wanted < max(self._batch // 2, 1):
            return
        if time.monotonic() - self._refused_at < REFUSED_PAUSE_SECONDS:
            return
        request: dict[str, Any] = {"batch": wanted, **self._request_body}
        await self._nc.publish(self._next_subject, orjson.dumps(request), reply=self._inbox)
        self._asked += wanted
        self._heard = self._pulled_at = time.monotonic()
        self.pulls += 1


def _header_int(message: Msg, name: str) -> int | None:
    try:
        return int(message.headers[name]) if message.headers and name in message.headers else None
    except ValueError:
        return None
