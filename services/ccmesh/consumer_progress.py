"""Whether a durable consumer has got as far as a message already on its stream: a read-your-
writes barrier for a projection a consumer builds (a conversation, a timeline), so a request that
follows a write can wait for the projection to include it instead of answering from one behind.

The mark is the consumer's ack floor: every message up to it was settled (handled and acked, or
dead-lettered), by whichever instance of the consumer took it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError

#: Between two looks at the consumers' ack floors.
POLL_SECONDS = 0.05


async def caught_up(
    js: JetStreamContext,
    stream: str,
    followed: Sequence[tuple[str, str]],
    *,
    within_seconds: float,
    poll_seconds: float = POLL_SECONDS,
) -> bool:
    """For each (subject, durable) in `followed`: the last message stored on `subject` now, then
    wait until `durable` has settled it. True once all have (or none had anything to settle),
    False when `within_seconds` ran out first; a consumer that does not exist is not waited for."""
    marks: list[tuple[str, int]] = []
    for subject, durable in followed:
        try:
            last = await js.get_last_msg(stream, subject, direct=True)
        except NotFoundError:  # nothing stored on the subject: nothing to wait for
            continue
        marks.append((durable, int(last.seq or 0)))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_seconds
    while marks:
        behind = []
        for durable, sequence in marks:
            try:
                info = await js.consumer_info(stream, durable)
            except NotFoundError:  # no such consumer (not started here): nobody to wait for
                continue
            floor = info.ack_floor.stream_seq if info.ack_floor is not None else 0
            if (floor or 0) < sequence:
                behind.append((durable, sequence))
        marks = behind
        if not marks:
            break
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(poll_seconds)
    return True
