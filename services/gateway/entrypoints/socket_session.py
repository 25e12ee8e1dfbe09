"""What the web chat and agent sockets share: framing, limits, close codes, serialised sends.

`SocketSession.messages()` yields the client's well-formed messages and turns everything
else into the documented outcome: a protocol error reply, or a close with its code (4400
garbage, 4408 timeout, 4429 flooding, 1009 too big). Pushes from NATS callbacks and replies
from the receive loop share one send lock, so frames never interleave.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections import Counter
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import WSCloseCode, WSMsgType, web

from gateway.domain.socket_protocol import (
    CLOSE_BAD_MESSAGE,
    CLOSE_FLOODING,
    CLOSE_TIMEOUT,
    CLOSE_TOO_BIG,
    MAX_FRAME_BYTES,
    BadFrame,
    ClientMessage,
    FloodGuard,
    SocketError,
    error_reply,
    parse_frame,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SocketLimits:
    #: Seconds a socket may stay silent (a `ping` counts) before it is closed with 4408.
    idle_seconds: float = 120.0
    #: Seconds to send the first message (`hello`, `auth`).
    first_message_seconds: float = 10.0
    #: Sustained messages per second per socket, and the burst above it, before 4429.
    messages_per_second: float = 20.0
    burst: int = 40
    #: Open sockets per tenant (each kind counted on its own) before new ones get 4429.
    per_tenant: int = 500
    #: WebSocket ping interval (browsers answer pings on their own).
    ping_seconds: float = 20.0


class TenantConnections:
    """Counts open sockets per tenant, for the per-tenant cap."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._open: Counter[str] = Counter()

    def take(self, tenant: str) -> bool:
        if self._open[tenant] >= self._limit:
            return False
        self._open[tenant] += 1
        return True

    def give_back(self, tenant: str) -> None:
        self._open[tenant] -= 1
        if self._open[tenant] <= 0:
            del self._open[tenant]


class OpenSockets:
    """Every open chat and workspace socket, so a stopping gateway can say goodbye to each.

    Closed with 1001 (going away) as soon as the service is asked to stop, before anything
    drains: browsers reconnect to another replica at once instead of seeing the connection drop.
    """

    def __init__(self) -> None:
        self._sessions: weakref.WeakSet[SocketSession] = weakref.WeakSet()

    def add(self, session: SocketSession) -> None:
        self._sessions.add(session)

    def __len__(self) -> int:
        return len(self._sessions)

    async def close_all(self, reason: str = "server shutting down; reconnect") -> None:
        sessions = list(self._sessions)
        if sessions:
            await asyncio.gather(*(s.close(WSCloseCode.GOING_AWAY, reason) for s in sessions))


#: Where the app keeps its `OpenSockets` (set by the gateway's HTTP app).
OPEN_SOCKETS = web.AppKey("open_sockets", OpenSockets)


def track(request: web.Request, session: SocketSession) -> None:
    """Count the session among the app's open sockets (closed with 1001 on stop)."""
    sockets = request.app.get(OPEN_SOCKETS)
    if sockets is not None:
        sockets.add(session)


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


class SocketSession:
    def __init__(self, ws: web.WebSocketResponse, limits: SocketLimits) -> None:
        self.ws = ws
        self._limits = limits
        self._lock = asyncio.Lock()
        self._flood = FloodGuard(limits.messages_per_second, limits.burst, time.monotonic())

    @staticmethod
    def response(limits: SocketLimits) -> web.WebSocketResponse:
        # Frames over the limit make aiohttp close the socket with 1009 by itself.
        return web.WebSocketResponse(
            max_msg_size=MAX_FRAME_BYTES, heartbeat=limits.ping_seconds, autoping=True
        )

    async def send(self, payload: dict[str, Any]) -> None:
        if self.ws.closed:
            return
        async with self._lock:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self.ws.send_str(_dumps(payload))

    async def reply(self, message: ClientMessage, payload: dict[str, Any]) -> None:
        await self.send({**payload, "id": message.id} if message.id is not None else payload)

    async def error(self, error: SocketError, message_id: str | None) -> None:
        await self.send(error_reply(error.code, error.message, message_id))

    async def close(self, code: int, reason: str) -> None:
        if not self.ws.closed:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self.ws.close(code=code, message=reason[:120].encode())

    async def messages(
        self, first_message_seconds: float | None = None
    ) -> AsyncGenerator[ClientMessage, None]:
        """The client's messages until it leaves or breaks the protocol (then the socket is closed)."""
        timeout = first_message_seconds or self._limits.first_message_seconds
        while not self.ws.closed:
            try:
                frame = await self.ws.receive(timeout=timeout)
            except TimeoutError:
                await self.close(CLOSE_TIMEOUT, f"no message for {timeout:g} s")
                return
            timeout = self._limits.idle_seconds
            if frame.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
                return
            if frame.type == WSMsgType.ERROR:
                # aiohttp reports an oversized frame here (and has sent 1009 already).
                await self.close(CLOSE_TOO_BIG, f"frame larger than {MAX_FRAME_BYTES} bytes")
                return
            if frame.type != WSMsgType.TEXT:
                await self.close(CLOSE_BAD_MESSAGE, "binary frames are not part of the protocol")
                return
            if not self._flood.allow(time.monotonic()):
                await self.close(CLOSE_FLOODING, "too many messages per second")
                return
            try:
                message = parse_frame(frame.data)
            except BadFrame as error:
                await self.close(CLOSE_BAD_MESSAGE, str(error))
                return
            except SocketError as error:
                await self.error(error, None)
                continue
            yield message
