"""Manual surge commands shared by the routing instances of a region, over core NATS.

A supervisor's `ccctl surge engage|release` reaches one instance (the RPC's queue group); that
instance applies it and publishes it on `ccsurgecmd.<region>`, which every instance (itself
included, harmlessly) subscribes to, so each instance's fallback engine holds the same manual
decision. A command lost on the way (an instance restarting) is not replayed: the instances then
differ until the next command, which `ccctl surge status` shows per instance asked.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg

from routing.domain.fallback import ManualCommand

log = logging.getLogger(__name__)

SUBJECT_PREFIX = "ccsurgecmd"
ACTIONS = ("engage", "release")


def encode(command: ManualCommand) -> bytes:
    return orjson.dumps(
        {
            "tenant": command.tenant,
            "policy": command.policy,
            "action": command.action,
            "at": command.at,
            "by": command.by,
        }
    )


def decode(data: bytes) -> ManualCommand:
    """Raises ValueError naming what is wrong with the message."""
    try:
        raw = orjson.loads(data)
        command = ManualCommand(
            str(raw["tenant"]), str(raw["policy"]), str(raw["action"]), float(raw["at"]), str(raw["by"])
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise ValueError(f"unreadable surge command: {error}") from None
    if command.action not in ACTIONS:
        raise ValueError(f"unreadable surge command: action {command.action!r} is not one of {ACTIONS}")
    return command


class NatsSurgeCommands:
    def __init__(self, nc: Client, region: str) -> None:
        self._nc = nc
        self._subject = f"{SUBJECT_PREFIX}.{region}"

    async def broadcast(self, command: ManualCommand) -> None:
        await self._nc.publish(self._subject, encode(command))
        await self._nc.flush()

    async def listen(
        self, apply: Callable[[ManualCommand], Awaitable[None]]
    ) -> Callable[[], Awaitable[None]]:
        async def take(message: Msg) -> None:
            try:
                await apply(decode(message.data))
            except ValueError as error:
                log.warning("%s", error)
            except Exception:  # one bad command must not end the subscription
                log.exception("surge command not applied")

        subscription = await self._nc.subscribe(self._subject, cb=take)
        return subscription.unsubscribe
