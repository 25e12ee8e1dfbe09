"""Call mesh services with the generated gRPC stubs, over NATS request/reply.

    channel = MeshChannel(nc, region="eu", token=token)
    identity: IdentityServiceAsyncStub = mesh_stub(identity_pb2_grpc.IdentityServiceStub, channel)
    reply = await identity.ResolveCustomer(request, timeout=2.0)

The stub's method path `/contactcenter.identity.v1.IdentityService/ResolveCustomer` maps to
the subject `cc.eu.identity.v1.ResolveCustomer`. Failures raise `RpcError` with a gRPC code:
no responders is UNAVAILABLE at once; no reply before the deadline is DEADLINE_EXCEEDED.
A call made while handling another call never outlives the caller's own deadline.

Replies come back on one wildcard inbox per connection (`ReplyInbox`), matched to waiting
calls by a counter token, with a plain timer for the deadline: cheaper per call than
nats-py's `request`, which is what lets the mesh keep up with raw request/reply.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import grpc
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import MaxPayloadError
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from ccmesh import naming, telemetry
from ccmesh.nats_connection import expire
from ccmesh.rpc_context import current_deadline
from ccmesh.status import AUTHORIZATION_HEADER, TIMEOUT_HEADER, RpcError, error_from_headers

_NO_RESPONDERS = "503"
_STATUS = "Status"


class ReplyInbox:
    """One `_INBOX.<id>.*` subscription per connection, shared by every channel on it."""

    _by_connection: weakref.WeakKeyDictionary[Client, ReplyInbox] = weakref.WeakKeyDictionary()

    def __init__(self, nc: Client) -> None:
        self._nc = nc
        self._prefix = f"{nc.new_inbox()}."
        self._tokens = itertools.count(1)
        self._waiting: dict[str, asyncio.Future[Msg]] = {}
        self._ready: asyncio.Future[None] | None = None

    @classmethod
    def of(cls, nc: Client) -> ReplyInbox:
        inbox = cls._by_connection.get(nc)
        if inbox is None:
            inbox = cls._by_connection[nc] = cls(nc)
        return inbox

    async def _subscribe(self) -> None:
        await self._nc.subscribe(f"{self._prefix}*", cb=self._on_reply, pending_msgs_limit=1_000_000)

    async def _on_reply(self, msg: Msg) -> None:
        future = self._waiting.get(msg.subject[len(self._prefix) :])
        if future is not None and not future.done():
            future.set_result(msg)

    async def request(self, subject: str, data: bytes, headers: dict[str, str], timeout: float) -> Msg | None:
        """The reply, or None when the deadline passed first."""
        if self._ready is None:
            self._ready = asyncio.ensure_future(self._subscribe())
        if not self._ready.done():
            await asyncio.shield(self._ready)
        token = str(next(self._tokens))
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Msg] = loop.create_future()
        self._waiting[token] = future
        timer = loop.call_later(timeout, expire, future)
        try:
            await self._nc.publish(subject, data, reply=self._prefix + token, headers=headers)
            return await future
        except TimeoutError:
            return None
        finally:
            timer.cancel()
            del self._waiting[token]


class _UnaryUnary:
    def __init__(
        self,
        channel: MeshChannel,
        path: str,
        serializer: Callable[[Any], bytes],
        deserializer: Callable[[bytes], Any],
    ) -> None:
        service_full_name, _, method = path.lstrip("/").partition("/")
        package_parts = service_full_name.split(".")
        if len(package_parts) != 4:
            raise ValueError(f"method path {path!r} is not /<root>.<service>.v1.<Service>/<Method>")
        self._channel = channel
        self._service = package_parts[1]
        self._service_full_name = service_full_name
        self._method = method
        self._span_name = f"{service_full_name}/{method}"
        self._serialize = serializer
        self._deserialize = deserializer
        self._subjects: dict[str, str] = {}

    async def __call__(
        self,
        request: Any,
        *,
        timeout: float | None = None,
        metadata: Sequence[tuple[str, str]] | None = None,
        region: str | None = None,
        **_: Any,
    ) -> Any:
        channel = self._channel
        region = region or channel.region
        subject = self._subjects.get(region)
        if subject is None:
            subject = self._subjects[region] = naming.rpc_subject(region, self._service, self._method)
        timeout = channel.effective_timeout(timeout)
        headers = {TIMEOUT_HEADER: str(max(1, int(timeout * 1000)))}
        token = channel.token() if callable(channel.token) else channel.token
        if token:
            headers[AUTHORIZATION_HEADER] = f"Bearer {token}"
        if metadata:
            headers.update(metadata)
        data = self._serialize(request)
        if not channel.tracing:
            return self._deserialize(await self._exchange(subject, data, headers, timeout, region))
        if channel.parent_sampling and telemetry.unsampled_parent(otel_context.get_current()):
            telemetry.inject(headers)  # the caller's trace is not sampled: pass that on, record nothing
            return self._deserialize(await self._exchange(subject, data, headers, timeout, region))
        span = channel.tracer.start_span(
            self._span_name,
            kind=SpanKind.CLIENT,
            attributes={
                "rpc.system": "grpc",
                "rpc.service": self._service_full_name,
                "rpc.method": self._method,
                "messaging.system": "nats",
                "cloud.region": region,
            },
        )
        telemetry.inject(headers, context=trace.set_span_in_context(span))
        try:
            reply = await self._exchange(subject, data, headers, timeout, region)
        except RpcError as error:
            span.set_attribute("rpc.grpc.status_code", error.code.value[0])
            span.set_status(Status(StatusCode.ERROR, error.message))
            raise
        finally:
            span.end()
        return self._deserialize(reply)

    async def _exchange(
        self, subject: str, data: bytes, headers: dict[str, str], timeout: float, region: str
    ) -> bytes:
        try:
            reply = await self._channel.inbox.request(subject, data, headers, timeout)
        except MaxPayloadError:
            raise RpcError(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"request of {len(data)} bytes exceeds the NATS server's max_payload",
            ) from None
        if reply is None:
            raise RpcError(
                grpc.StatusCode.DEADLINE_EXCEEDED, f"{self._span_name} got no reply within {timeout:.3f}s"
            )
        if reply.headers:
            if reply.headers.get(_STATUS) == _NO_RESPONDERS:
                raise RpcError(
                    grpc.StatusCode.UNAVAILABLE,
                    f"no instance of {self._service!r} serves {self._method} in region {region!r}",
                )
            failure = error_from_headers(reply.headers)
            if failure is not None:
                raise failure
        return reply.data


class MeshChannel:
    """A channel-like object that the generated stubs accept; calls go over NATS."""

    def __init__(
        self,
        nc: Client,
        region: str,
        *,
        token: str | Callable[[], str] | None = None,
        default_timeout: float = 10.0,
    ) -> None:
        self.nc = nc
        self.region = region
        self.token = token
        self.default_timeout = default_timeout
        self.tracer = telemetry.tracer()
        self.tracing = telemetry.tracing_enabled()
        self.parent_sampling = telemetry.follows_parent_sampling()
        self.inbox = ReplyInbox.of(nc)

    def effective_timeout(self, timeout: float | None) -> float:
        chosen = self.default_timeout if timeout is None else timeout
        inherited = current_deadline.get()
        if inherited is not None:
            chosen = min(chosen, inherited - time.monotonic())
        if chosen <= 0:
            raise RpcError(grpc.StatusCode.DEADLINE_EXCEEDED, "deadline already expired before the call")
        return chosen

    def with_token(self, token: str | Callable[[], str] | None) -> MeshChannel:
        return MeshChannel(self.nc, self.region, token=token, default_timeout=self.default_timeout)

    def unary_unary(
        self,
        method: str,
        request_serializer: Callable[[Any], bytes] | None = None,
        response_deserializer: Callable[[bytes], Any] | None = None,
        **_: Any,
    ) -> _UnaryUnary:
        if request_serializer is None or response_deserializer is None:
            raise ValueError("mesh calls need the stub's serializer and deserializer")
        return _UnaryUnary(self, method, request_serializer, response_deserializer)

    def unary_stream(self, *_: Any, **__: Any) -> Any:
        raise RpcError(grpc.StatusCode.UNIMPLEMENTED, "streaming RPCs are not carried over the mesh")

    stream_unary = unary_stream
    stream_stream = unary_stream


def mesh_stub(stub_class: Callable[[Any], object], channel: MeshChannel) -> Any:
    """Build a generated stub over the mesh.

    Annotate the result with the generated `...AsyncStub` type: its calls are awaitables.
    """
    return stub_class(channel)
