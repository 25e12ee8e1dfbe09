"""The HTTP edge every gateway route passes through, whoever wrote the route.

In order, outermost first:
- `observe`: one OTel SERVER span per request (W3C `traceparent` honoured, HTTP semantic
  convention attributes); it leaves the request's access-log fields (method, route, tenant,
  endpoint, error code, trace and span id; never headers, tokens, signatures or bodies) for
  the access logger (`edge_access_log`), which writes one JSON line once the answer is sent.
  Errors become JSON `{"error": {"code", "message"}}`; an unexpected exception is a 500 that
  names only the trace id, with the details in the log.
- `limit_body`: a declared body above the limit is refused with 413 before it is read.
- `admit`: a `{endpoint}` in the route must name an enabled endpoint of this region (else 404).
  The request spends a token of that endpoint's bucket (`rate_limit` in its document), or,
  for `{tenant}` routes, of the tenant's bucket; an empty bucket is 429 with Retry-After. On
  routes that verify their caller this happens only once the caller is proven; an unproven
  request spends its source address's small budget instead (see `edge_admission`).
- `read_body`: the body must arrive within `body_read_seconds`, else 408 and the connection is
  closed; a client trickling its body cannot hold a handler.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

import orjson
from aiohttp import web
from aiohttp.typedefs import Middleware
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from ccmesh import telemetry
from ccmesh.configplane.models import ChannelEndpoint
from ccmesh.metric_buckets import REQUEST_DURATION_BUCKETS
from ccmesh.rpc_context import current_method, current_request
from gateway.adapters.channel_directory import ChannelDirectory
from gateway.domain.rate_limit import RateLimiter
from gateway.entrypoints.edge_access_log import ACCESS_FIELDS
from gateway.entrypoints.edge_admission import (
    ADMISSION,
    Admission,
    Bucket,
    RateLimited,
    proves_its_caller,
    spend,
)

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: Methods recorded by name on `http.server.request.duration`; any other is `_OTHER`.
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"})

_ENDPOINT = web.RequestKey("cc.endpoint", ChannelEndpoint)
_TENANT = web.RequestKey("cc.tenant", str)


class EdgeError(Exception):
    """A request the gateway refuses; the message names the problem (and never a secret)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: Mapping[str, str] | None = None,
        *,
        close: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        #: Close the connection after the answer (the client is flooding or too slow).
        self.close = close


def json_error(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=orjson.dumps({"error": {"code": code, "message": message}}),
        status=status,
        content_type="application/json",
        headers=headers,
    )


def endpoint_of(request: web.Request) -> ChannelEndpoint:
    """The channel endpoint named in the route, already checked to exist and be enabled."""
    if _ENDPOINT not in request:
        raise EdgeError(404, "NOT_FOUND", "endpoint: this route names no channel endpoint")
    return request[_ENDPOINT]


@dataclass(frozen=True)
class EdgeSettings:
    region: str
    max_body_bytes: int
    tenant_rate_per_second: float
    tenant_rate_burst: int
    #: Budget of requests per source address that fail to prove their caller.
    unverified_per_second: float = 5.0
    unverified_burst: int = 20
    #: Seconds a request's body may take to arrive once its head is in.
    body_read_seconds: float = 30.0


def _route_template(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else ""


_ERROR_CODES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    408: "DEADLINE_EXCEEDED",
    409: "ABORTED",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "RATE_LIMITED",
}


class Edge:
    def __init__(self, settings: EdgeSettings, directory: ChannelDirectory | None) -> None:
        self._settings = settings
        self._directory = directory
        self._limiter = RateLimiter()
        # Source addresses come from anyone on the network: a limiter of their own, so their
        # number cannot evict the configured tenants' and endpoints' buckets.
        self._sources = RateLimiter()
        self._duration = telemetry.meter().create_histogram(
            "http.server.request.duration",
            unit="s",
            description="Duration of HTTP requests to the gateway, per method, route and status",
            explicit_bucket_boundaries_advisory=list(REQUEST_DURATION_BUCKETS),
        )

    def middlewares(self) -> list[Middleware]:
        return [self.observe, self.limit_body, self.admit, self.read_body]

    @web.middleware
    async def observe(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        route = _route_template(request)
        # What the access check records in the audit log for this request (never the query
        # string: a lookup by phone number carries it there).
        current_method.set(f"{request.method} {request.path}")
        current_request.set(None)
        attributes: dict[str, str | int] = {
            "http.request.method": request.method,
            "url.path": request.path,
            "url.scheme": request.scheme,
            "server.address": request.url.host or "",
            "server.port": request.url.port or 0,
            "network.protocol.version": f"{request.version.major}.{request.version.minor}",
        }
        if route:
            attributes["http.route"] = route
        user_agent = request.headers.get("User-Agent")
        if user_agent:
            attributes["user_agent.original"] = user_agent[:256]
        span_name = f"{request.method} {route}" if route else request.method
        with telemetry.tracer().start_as_current_span(
            span_name,
            context=propagate.extract(request.headers),
            kind=SpanKind.SERVER,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            context = span.get_span_context()
            trace_id = trace.format_trace_id(context.trace_id) if context.is_valid else ""
            fields: dict[str, str] = {
                "method": request.method,
                "route": route or "unmatched",
                "tenant": "",
                "endpoint": request.match_info.get("endpoint", "")[:100],
                "error": "",
                "trace_id": trace_id,
                "span_id": trace.format_span_id(context.span_id) if context.is_valid else "",
            }
            # Written once the answer is sent, also when the handler ends in a redirect.
            request[ACCESS_FIELDS] = fields
            started = time.perf_counter()
            close = False
            try:
                response = await handler(request)
            except EdgeError as error:
                fields["error"] = error.code
                close = error.close
                response = json_error(error.status, error.code, error.message, error.headers)
            except web.HTTPException as error:
                if error.status < 400:
                    raise
                fields["error"] = _ERROR_CODES.get(error.status, "HTTP_ERROR")
                response = json_error(error.status, fields["error"], self._describe(request, error))
            except Exception:
                # Details stay in the log (with the trace id to find them), never in the answer.
                log.exception(
                    "unhandled error in %s %s (trace_id %s)", request.method, route, trace_id or "none"
                )
                fields["error"] = "INTERNAL"
                response = json_error(500, "INTERNAL", f"internal error; trace id {trace_id or 'none'}")
            if close:
                response.force_close()
            # Names from the URL may be anything a client typed: bounded.
            fields["tenant"] = request.get(_TENANT, request.match_info.get("tenant", ""))[:100]
            span.set_attribute("http.response.status_code", response.status)
            if response.status >= 500:
                span.set_status(Status(StatusCode.ERROR))
                span.set_attribute("error.type", str(response.status))
            # The route template, never the path (it holds tenant, endpoint and contact names),
            # and a method the client typed only when HTTP knows it: the label set stays bounded.
            served: dict[str, str | int] = {
                "http.request.method": request.method if request.method in HTTP_METHODS else "_OTHER",
                "http.route": route or "unmatched",
                "http.response.status_code": response.status,
            }
            self._duration.record(time.perf_counter() - started, served)
            return response

    def _describe(self, request: web.Request, error: web.HTTPException) -> str:
        if error.status == 404:
            return f"no route for {request.method} {request.path}"
        if error.status == 405:
            allowed = ", ".join(sorted(getattr(error, "allowed_methods", ()) or ()))
            return f"method {request.method} not allowed on {request.path}; allowed: {allowed}"
        if error.status == 413:
            return f"body: larger than the limit of {self._settings.max_body_bytes} bytes"
        return error.reason

    @web.middleware
    async def limit_body(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        limit = self._settings.max_body_bytes
        if request.content_length is not None and request.content_length > limit:
            raise EdgeError(
                413,
                "PAYLOAD_TOO_LARGE",
                f"body: {request.content_length} bytes is larger than the limit of {limit} bytes",
            )
        return await handler(request)

    @web.middleware
    async def admit(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        name = request.match_info.get("endpoint")
        if name is not None:
            endpoint = self._directory.by_name(name) if self._directory is not None else None
            if endpoint is None:
                unknown = EdgeError(
                    404,
                    "NOT_FOUND",
                    f"endpoint {name[:200]!r}: no enabled channel endpoint of that name in region "
                    f"{self._settings.region}",
                )
                self._charge_source(request)
                raise unknown
            request[_ENDPOINT] = endpoint
            request[_TENANT] = endpoint.spec.tenant
            rate_limit = endpoint.spec.rate_limit
            bucket = Bucket(f"{endpoint.spec.tenant}/{name}", rate_limit.per_second, rate_limit.burst)
        elif "tenant" in request.match_info:
            settings = self._settings
            bucket = Bucket(
                f"tenant:{request.match_info['tenant']}",
                settings.tenant_rate_per_second,
                settings.tenant_rate_burst,
            )
        else:
            return await handler(request)
        if not proves_its_caller(request):
            try:
                spend(self._limiter, bucket)
            except RateLimited as limited:
                raise _too_many(limited) from None
            return await handler(request)
        admission = request[ADMISSION] = Admission(self._limiter, bucket)
        try:
            response = await handler(request)
        except RateLimited as limited:
            raise _too_many(limited) from None
        except (EdgeError, web.HTTPException) as error:
            if not admission.charged and error.status >= 400:
                self._charge_source(request)
            raise
        if admission.charged:
            return response
        if response.status >= 400:
            # A refusal the handler answered itself instead of raising it.
            self._charge_source(request)
            return response
        # A verifying route that answered without saying its caller was proven still counts.
        with contextlib.suppress(RateLimited):
            admission.charge()
        return response

    def _charge_source(self, request: web.Request) -> None:
        """Charges a request that did not prove its caller to its source address's budget.

        Always after the caller's check, never instead of it: signed requests from the same
        address (a proxy, a shared NAT) must not be refused for what others sent from there."""
        settings = self._settings
        source = request.remote or "unknown"
        try:
            spend(
                self._sources,
                Bucket(f"source:{source}", settings.unverified_per_second, settings.unverified_burst),
            )
        except RateLimited as limited:
            raise EdgeError(
                429,
                "RATE_LIMITED",
                f"source {source[:100]}: too many requests that prove no caller; "
                f"retry after {limited.retry_after}s",
                {"Retry-After": str(limited.retry_after)},
                close=True,
            ) from None

    @web.middleware
    async def read_body(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.can_read_body:
            seconds = self._settings.body_read_seconds
            try:
                async with asyncio.timeout(seconds):
                    # Cached on the request: the handler's own `read()` returns these bytes.
                    await request.read()
            except TimeoutError:
                raise EdgeError(
                    408,
                    "DEADLINE_EXCEEDED",
                    f"body: not received within {seconds:g} s",
                    close=True,
                ) from None
        return await handler(request)


def _too_many(limited: RateLimited) -> EdgeError:
    return EdgeError(429, "RATE_LIMITED", limited.message, {"Retry-After": str(limited.retry_after)})
