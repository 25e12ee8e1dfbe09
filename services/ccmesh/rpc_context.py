"""The servicer context for calls that arrive over NATS.

Servicers are written once against the gRPC servicer API (`await context.abort(...)`,
`context.invocation_metadata()`, `context.time_remaining()`); this class gives the same
surface for mesh calls, so one servicer serves both transports.

A servicer ends a call with a status one way: `await abort(context, code, message)` (or
`context.abort` itself). Raising `RpcError` is for passing on a downstream call's status.
"""

from __future__ import annotations

import contextvars
import time
from typing import Any, NoReturn

import grpc

from ccmesh.status import RpcError

#: The deadline (time.monotonic) of the request being handled, so outgoing calls inherit it.
current_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "current_deadline", default=None
)
#: The gRPC path (`/<package>.<Service>/<Method>`) of the request being handled, on either
#: transport: the access check names it in the audit log without each handler saying it.
current_method: contextvars.ContextVar[str] = contextvars.ContextVar("current_method", default="")
#: Its request message: the audit log reads what the call is about (customer, queue) from it.
current_request: contextvars.ContextVar[Any] = contextvars.ContextVar("current_request", default=None)


#: Headers that are transport concerns, not call metadata handed to the servicer.
_TRANSPORT_HEADERS = frozenset({"traceparent", "tracestate", "baggage", "grpc-timeout-ms"})


async def abort(context: Any, code: grpc.StatusCode, message: str) -> NoReturn:
    """End the call with `code`: the context's `abort`, typed as never returning, so type
    checkers know the handler stops here (grpc.aio's and the mesh's contexts both raise)."""
    await context.abort(code, message)
    raise AssertionError("abort returned")  # pragma: no cover - abort always raises


class AbortRpc(RpcError):
    """Raised by `NatsServicerContext.abort`, like grpc.aio's abort raises to end the handler."""


class NatsServicerContext:
    def __init__(self, headers: dict[str, str] | None, deadline: float, peer: str) -> None:
        self._headers = headers
        self._deadline = deadline
        self._peer = peer
        self._code: grpc.StatusCode | None = None
        self._details = ""

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        # Built on demand: most handlers read metadata once (the token) or never.
        if not self._headers:
            return ()
        return tuple((k.lower(), v) for k, v in self._headers.items() if k.lower() not in _TRANSPORT_HEADERS)

    def time_remaining(self) -> float:
        return max(0.0, self._deadline - time.monotonic())

    def peer(self) -> str:
        return self._peer

    async def abort(
        self, code: grpc.StatusCode, details: str = "", trailing_metadata: object = ()
    ) -> NoReturn:
        raise AbortRpc(code, details)

    def set_code(self, code: grpc.StatusCode) -> None:
        self._code = code

    def set_details(self, details: str) -> None:
        self._details = details

    def code(self) -> grpc.StatusCode | None:
        return self._code

    def details(self) -> str:
        return self._details

    def set_trailing_metadata(self, trailing_metadata: object) -> None:
        """Trailing metadata has no carrier on the mesh; accepted for servicer compatibility."""
