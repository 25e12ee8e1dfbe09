"""Serve generated gRPC servicers over NATS request/reply.

Each gRPC service listens on `cc.<region>.<service>.v1.*` in queue group `<service>`, so
replicas share the load and an unknown method still reaches a replica, which answers
UNIMPLEMENTED instead of leaving the caller to time out. Requests run as concurrent tasks
(at most `max_concurrency`); the reply is the serialized response with no headers, or an
error status in headers (see `ccmesh.status`).

This is the hot path of the whole platform, so it avoids per-request work that does not
pay for itself: deadlines are enforced by one sweeper instead of a timer per request, span
bookkeeping is skipped when no tracer records, and metrics are read from counters at
collection time instead of being recorded per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable
from typing import Any

import grpc
from google.protobuf.descriptor import ServiceDescriptor
from google.protobuf.message import DecodeError
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.metrics import CallbackOptions, Histogram, Observation
from opentelemetry.trace import SpanKind, Status, StatusCode

from ccmesh import naming, telemetry
from ccmesh.discovery import Discovery, EndpointCounters
from ccmesh.metric_buckets import REQUEST_DURATION_BUCKETS
from ccmesh.rpc_context import (
    AbortRpc,
    NatsServicerContext,
    current_deadline,
    current_method,
    current_request,
)
from ccmesh.servicer_binding import ServiceBinding, bind_servicer
from ccmesh.status import NATS_AWAY_ERRORS, TIMEOUT_HEADER, RpcError, error_headers

log = logging.getLogger(__name__)

#: How often overdue requests are looked for; deadlines are honoured within this margin.
DEADLINE_SWEEP_SECONDS = 0.01
#: Upper bounds (seconds) of `rpc.server.call.duration`.
CALL_DURATION_BUCKETS = REQUEST_DURATION_BUCKETS

_SERVER_FAULTS = frozenset(
    {
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.DATA_LOSS,
        grpc.StatusCode.UNAVAILABLE,
    }
)


class _Overdue(Exception):
    """Marks a request task that the sweeper cancelled because its deadline passed."""


class MeshServer:
    def __init__(
        self,
        nc: Client,
        *,
        region: str,
        name: str,
        version: str,
        instance_id: str,
        description: str = "",
        max_message_bytes: int = 512 * 1024,
        default_deadline_seconds: float = 10.0,
        max_concurrency: int = 1000,
        metadata: dict[str, str] | None = None,
    ) -> None:
        self._nc = nc
        self.region = region
        self.name = name
        self.version = version
        self.instance_id = instance_id
        self.description = description
        self.max_message_bytes = max_message_bytes
        self.default_deadline_seconds = default_deadline_seconds
        self.metadata = {"region": region, **(metadata or {})}
        self._max_concurrency = max_concurrency
        self._slot_free = asyncio.Event()
        self._bindings: list[tuple[ServiceBinding, EndpointCounters]] = []
        self._subscriptions: list[Subscription] = []
        #: In-flight request tasks and their deadlines (time.monotonic).
        self._in_flight: dict[asyncio.Task[None], float] = {}
        self._overdue: set[asyncio.Task[None]] = set()
        self._sweeper: asyncio.Task[None] | None = None
        self._discovery: Discovery | None = None
        self._tracer = telemetry.tracer()
        self._tracing = False
        self._parent_sampling = False
        self._call_duration: Histogram | None = None

    def add_servicer(self, servicer: object, descriptor: ServiceDescriptor) -> ServiceBinding:
        binding = bind_servicer(servicer, descriptor)
        counters = EndpointCounters(
            name=descriptor.name,
            subject=naming.rpc_wildcard(self.region, binding.service),
            queue_group=binding.service,
            metadata={"grpc_service": binding.full_name, "methods": ",".join(sorted(binding.methods))},
        )
        self._bindings.append((binding, counters))
        return binding

    @property
    def endpoints(self) -> list[EndpointCounters]:
        return [counters for _, counters in self._bindings]

    async def start(self) -> None:
        self._tracing = telemetry.tracing_enabled()
        self._parent_sampling = telemetry.follows_parent_sampling()
        self._register_metrics()
        self._sweeper = asyncio.create_task(self._sweep_deadlines(), name=f"{self.name}-deadlines")
        for binding, counters in self._bindings:
            self._subscriptions.append(
                await self._nc.subscribe(
                    counters.subject,
                    queue=counters.queue_group,
                    cb=self._dispatcher(binding, counters),
                    pending_msgs_limit=65536,
                )
            )
        self._discovery = Discovery(
            self._nc,
            name=self.name,
            instance_id=self.instance_id,
            version=self.version,
            description=self.description,
            metadata=self.metadata,
            endpoints=self.endpoints,
        )
        await self._discovery.start()
        await self._nc.flush()

    async def stop(self, grace_seconds: float) -> None:
        """Stop taking requests, then give in-flight ones `grace_seconds` to finish."""
        self.metadata["status"] = "DRAINING"
        subscriptions, self._subscriptions = self._subscriptions, []
        for subscription in subscriptions:
            # drain: requests already delivered to us are still dispatched, none are dropped.
            await subscription.drain()  # type: ignore[no-untyped-call]
        if self._in_flight:
            _, pending = await asyncio.wait(set(self._in_flight), timeout=grace_seconds)
            for task in pending:
                task.cancel()
        if self._sweeper is not None:
            self._sweeper.cancel()
        if self._discovery is not None:
            await self._discovery.stop()

    def _dispatcher(self, binding: ServiceBinding, counters: EndpointCounters) -> Any:
        async def dispatch(msg: Msg) -> None:
            # Waiting here is the back-pressure: while every slot is busy, new requests wait
            # in the subscription's queue instead of piling up as tasks.
            while len(self._in_flight) >= self._max_concurrency:
                self._slot_free.clear()
                await self._slot_free.wait()
            received = time.monotonic()
            deadline = received + self._timeout_seconds(msg.headers)
            task = asyncio.create_task(self._handle(binding, counters, msg, deadline))
            # The sweeper never cancels a task before it had a chance to run: one that arrived
            # already expired still answers DEADLINE_EXCEEDED itself.
            self._in_flight[task] = max(deadline, received + DEADLINE_SWEEP_SECONDS)
            task.add_done_callback(self._finished)

        return dispatch

    def _finished(self, task: asyncio.Task[None]) -> None:
        del self._in_flight[task]
        self._overdue.discard(task)
        self._slot_free.set()

    async def _sweep_deadlines(self) -> None:
        while True:
            await asyncio.sleep(DEADLINE_SWEEP_SECONDS)
            now = time.monotonic()
            for task, deadline in list(self._in_flight.items()):
                if deadline <= now and task not in self._overdue:
                    self._overdue.add(task)
                    task.cancel(msg="deadline exceeded")

    def _timeout_seconds(self, headers: dict[str, str] | None) -> float:
        raw = headers.get(TIMEOUT_HEADER) if headers else None
        if raw is None:
            return self.default_deadline_seconds
        try:
            return int(raw) / 1000.0
        except ValueError:
            return -1.0  # reported as INVALID_ARGUMENT by _invoke

    async def _handle(
        self, binding: ServiceBinding, counters: EndpointCounters, msg: Msg, deadline: float
    ) -> None:
        started = time.perf_counter_ns()
        method_name = msg.subject[msg.subject.rfind(".") + 1 :]
        span = None
        token = None
        if self._tracing:
            parent = telemetry.extract(msg.headers)
            if self._parent_sampling and telemetry.unsampled_parent(parent):
                token = otel_context.attach(parent)  # pass the "not sampled" decision on, record nothing
            else:
                span = self._start_span(binding, method_name, parent)
                token = otel_context.attach(trace.set_span_in_context(span, parent))
        error_text = None
        status = grpc.StatusCode.OK
        try:
            payload = await self._invoke(binding, method_name, msg, deadline)
            reply_headers = None
        except RpcError as error:
            payload = b""
            reply_headers = error_headers(error.code, error.message)
            error_text = f"{error.code.name}: {error.message}"
            status = error.code
            if span is not None:
                span.set_attribute("rpc.grpc.status_code", error.code.value[0])
                if error.code in _SERVER_FAULTS:
                    span.set_status(Status(StatusCode.ERROR, error_text))
        except asyncio.CancelledError:
            # Cut off by shutdown after the grace period: tell the caller at once, so it can
            # retry on another replica instead of waiting out its whole deadline.
            if msg.reply:
                headers = error_headers(grpc.StatusCode.UNAVAILABLE, f"{self.name} is shutting down; retry")
                with contextlib.suppress(Exception):
                    await self._nc.publish(msg.reply, b"", headers=headers)
            if span is not None:
                span.set_status(Status(StatusCode.ERROR, "cancelled by shutdown"))
                span.end()
            raise
        finally:
            if token is not None:
                otel_context.detach(token)
        if span is not None:
            if error_text is None:
                span.set_attribute("rpc.grpc.status_code", 0)
            span.end()
        if msg.reply:
            try:
                await self._nc.publish(msg.reply, payload, headers=reply_headers)
            except Exception:  # a closed connection during shutdown: the caller times out
                log.warning("could not send reply for %s", msg.subject, exc_info=True)
        elapsed_ns = time.perf_counter_ns() - started
        counters.record(elapsed_ns, error_text)
        if self._call_duration is not None:
            # A method name is the caller's text: only the service's own names become a label.
            method = method_name if method_name in binding.methods else "_OTHER"
            call = {
                "rpc.system": "grpc",
                "rpc.service": counters.name,
                "rpc.method": method,
                "rpc.grpc.status_code": status.name,
            }
            self._call_duration.record(elapsed_ns / 1e9, call)

    def _start_span(
        self, binding: ServiceBinding, method_name: str, parent: otel_context.Context
    ) -> trace.Span:
        return self._tracer.start_span(
            f"{binding.full_name}/{method_name}",
            context=parent,
            kind=SpanKind.SERVER,
            attributes={
                "rpc.system": "grpc",
                "rpc.service": binding.full_name,
                "rpc.method": method_name,
                "messaging.system": "nats",
            },
        )

    async def _invoke(self, binding: ServiceBinding, method_name: str, msg: Msg, deadline: float) -> bytes:
        method = binding.methods.get(method_name)
        if method is None:
            known = ", ".join(sorted(binding.methods))
            raise RpcError(
                grpc.StatusCode.UNIMPLEMENTED,
                f"method {method_name!r} does not exist on {binding.full_name}; known methods: {known}",
            )
        if len(msg.data) > self.max_message_bytes:
            raise RpcError(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"request of {len(msg.data)} bytes exceeds the maximum of {self.max_message_bytes} bytes",
            )
        if deadline <= time.monotonic():
            if msg.headers and msg.headers.get(TIMEOUT_HEADER, "0").lstrip("-").isdigit() is False:
                raise RpcError(grpc.StatusCode.INVALID_ARGUMENT, f"{TIMEOUT_HEADER} header is not an integer")
            raise RpcError(
                grpc.StatusCode.DEADLINE_EXCEEDED, "deadline expired before the request was handled"
            )
        try:
            request = method.request_type.FromString(msg.data)
        except DecodeError as error:
            raise RpcError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"payload is not a valid {method.request_type.DESCRIPTOR.full_name}: {error}",
            ) from None
        context = NatsServicerContext(msg.headers, deadline, peer=msg.reply)
        deadline_token = current_deadline.set(deadline)
        # Each request runs in its own task: the value never leaks into another request.
        current_method.set(method.path)
        current_request.set(request)
        try:
            response = await method.handler(request, context)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is None or task not in self._overdue:
                raise  # shutdown, not a deadline
            task.uncancel()
            raise RpcError(
                grpc.StatusCode.DEADLINE_EXCEEDED, f"{method.path} did not finish before its deadline"
            ) from None
        except RpcError:
            raise  # AbortRpc, or a downstream call's status passed on as gRPC would
        except NATS_AWAY_ERRORS as error:
            # JetStream electing a leader or NATS reconnecting: a retry will likely succeed, so
            # the caller hears UNAVAILABLE (retry) rather than INTERNAL (a bug).
            log.warning("%s: NATS did not answer in time: %r", method.path, error)
            raise RpcError(
                grpc.StatusCode.UNAVAILABLE, f"{method.path}: NATS did not answer in time; retry"
            ) from None
        except Exception:
            log.exception("unhandled error in %s", method.path)
            raise RpcError(grpc.StatusCode.INTERNAL, f"internal error in {method.path}") from None
        finally:
            current_deadline.reset(deadline_token)
        return response.SerializeToString()

    def _register_metrics(self) -> None:
        meter = telemetry.meter()
        attributes = {"rpc.system": "grpc"}  # the service is a resource attribute, not a metric one

        def requests(_: CallbackOptions) -> Iterable[Observation]:
            for counters in self.endpoints:
                yield Observation(counters.num_requests, {**attributes, "rpc.service": counters.name})

        def errors(_: CallbackOptions) -> Iterable[Observation]:
            for counters in self.endpoints:
                yield Observation(counters.num_errors, {**attributes, "rpc.service": counters.name})

        def busy_seconds(_: CallbackOptions) -> Iterable[Observation]:
            for counters in self.endpoints:
                yield Observation(
                    counters.processing_time_ns / 1e9, {**attributes, "rpc.service": counters.name}
                )

        meter.create_observable_counter(
            "rpc.server.requests", [requests], unit="{request}", description="Mesh requests handled"
        )
        meter.create_observable_counter(
            "rpc.server.errors", [errors], unit="{request}", description="Mesh requests answered with errors"
        )
        meter.create_observable_counter(
            "rpc.server.busy_time", [busy_seconds], unit="s", description="Time spent handling mesh requests"
        )
        self._call_duration = meter.create_histogram(
            "rpc.server.call.duration",
            unit="s",
            description="Duration of mesh requests, per method and status",
            explicit_bucket_boundaries_advisory=list(CALL_DURATION_BUCKETS),
        )
        meter.create_observable_up_down_counter(
            "rpc.server.in_flight",
            [lambda _: [Observation(len(self._in_flight), attributes)]],
            unit="{request}",
            description="Mesh requests being handled now",
        )


__all__ = ["AbortRpc", "MeshServer"]
