"""Reading what a stream holds: every message matching a subject, oldest first, to the end.

The end is the consumer's word (nothing pending), never a quiet moment: on a busy server a fetch
can come back empty while messages are still there, and a reader that stopped at the first empty
fetch would return part of the stream as if it were all of it.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator

from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext, api

#: Messages asked for per fetch.
BATCH = 256
#: Seconds one fetch waits for its first message before the consumer is asked what is left.
FETCH_SECONDS = 2.0


async def stored(
    js: JetStreamContext,
    subject: str,
    *,
    stream: str,
    config: api.ConsumerConfig | None = None,
    batch: int = BATCH,
) -> AsyncGenerator[Msg, None]:
    """The messages of `stream` matching `subject` (from `config`'s start, the oldest when not
    given), oldest first, up to the last one stored; those stored while reading come too.

    A reader that stops early closes it (`contextlib.aclosing`) so the consumer goes at once."""
    config = config or api.ConsumerConfig()
    # Read once, never acknowledged: nothing comes back after an ack wait.
    config.ack_policy = api.AckPolicy.NONE
    if config.inactive_threshold is None:
        config.inactive_threshold = 60.0
    subscription = await js.pull_subscribe(subject, stream=stream, config=config)
    taken = 0
    consumer = ""
    try:
        first = await subscription.consumer_info()
        consumer = first.name
        if first.num_pending == 0:
            return
        while True:
            try:
                messages = await subscription.fetch(batch, timeout=FETCH_SECONDS)
            except (NatsTimeoutError, TimeoutError):
                # Done when nothing is left to deliver and everything delivered was taken (a
                # message delivered after a fetch gave up waits in the subscription for the next).
                info = await subscription.consumer_info()
                delivered = info.delivered.consumer_seq if info.delivered is not None else 0
                if info.num_pending == 0 and (delivered or 0) <= taken:
                    return
                continue
            for message in messages:
                taken += 1
                yield message
            if messages and messages[-1].metadata.num_pending == 0:
                return
    finally:
        with contextlib.suppress(Exception):
            await subscription.unsubscribe()
        # Gone now rather than after its inactive threshold: a reader per request adds up.
        if consumer:
            with contextlib.suppress(Exception):
                await js.delete_consumer(stream, consumer)
