"""The HTTP edge every gateway route passes through, whoever wrote the route.

In order, outermost first:
- `observe`: one OTel SERVER span per request (W3C `traceparent` honoured, HTTP semantic
  convention attributes) and one JSON access-log line (method, route, status, duration,
  tenant, endpoint, trace and span id; never headers, tokens, signatures or bodies). Errors
  become JSON `{"error": {"code", "message"}}`; an unexpected exception is a 500 that names
  only the trace id, with the details in the log.
- `limit_body`: a declared body above the limit is refused with 413 before it is read.
- `admit`: a `{endpoint}` in the route must name an enabled endpoint of this region (else 404);
  the request then spends a token of that endpoint's bucket (`rate_limit` in its document), or,
  for `{tenant}` routes, of the tenant's bucket; an empty bucket is 429 with Retry-After.
"""

from __future__ import annotations

import logging
import sys
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
from gateway.adapters.channel_directory import ChannelDirectory
from gateway.domain.rate_limit import RateLimiter

ACCESS_LOGGER = "gateway.access"
access_log = logging.getLogger(ACCESS_LOGGER)
log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_ENDPOINT = web.RequestKey("cc.endpoint", ChannelEndpoint)
_TENANT = web.RequestKey("cc.tenant", str)


class EdgeError(Exception):
    """A request the gateway refuses; the message names the problem (and never a secret)."""

    def __init__(
        self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


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


def configure_access_log() -> None:
    """Access lines are JSON documents on their own line, whatever format the root logger uses."""
    if not access_log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        access_log.addHandler(handler)
        access_log.setLevel(logging.INFO)
        access_log.propagate = False


def _route_template(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else ""


_ERROR_CODES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
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

    def middlewares(self) -> list[Middleware]:
        return [self.observe, self.limit_body, self.admit]

    @web.middleware
    async def observe(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        route = _route_template(request)
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
            span_id = trace.format_span_id(context.span_id) if context.is_valid else ""
            error_code = ""
            try:
                response = await handler(request)
            except EdgeError as error:
                error_code = error.code
                response = json_error(error.status, error.code, error.message, error.headers)
            except web.HTTPException as error:
                if error.status < 400:
                    raise
                error_code = _ERROR_CODES.get(error.status, "HTTP_ERROR")
                response = json_error(error.status, error_code, self._describe(request, error))
            except Exception:
                # Details stay in the log (with the trace id to find them), never in the answer.
                log.exception(
                    "unhandled error in %s %s (trace_id %s)", request.method, route, trace_id or "none"
                )
                error_code = "INTERNAL"
                response = json_error(500, "INTERNAL", f"internal error; trace id {trace_id or 'none'}")
            span.set_attribute("http.response.status_code", response.status)
            if response.status >= 500:
                span.set_status(Status(StatusCode.ERROR))
                span.set_attribute("error.type", str(response.status))
            access_log.info(
                orjson.dumps(
                    {
                        "event": "http_request",
                        "method": request.method,
                        "route": route or "unmatched",
                        "status": response.status,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                        # Names from the URL may be anything a client typed: bounded.
                        "tenant": request.get(_TENANT, request.match_info.get("tenant", ""))[:100],
                        "endpoint": request.match_info.get("endpoint", "")[:100],
                        "error": error_code,
                        "trace_id": trace_id,
                        "span_id": span_id,
                    }
                ).decode()
            )
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
                raise EdgeError(
                    404,
                    "NOT_FOUND",
                    f"endpoint {name[:200]!r}: no enabled channel endpoint of that name in region "
                    f"{self._settings.region}",
                )
            request[_ENDPOINT] = endpoint
            request[_TENANT] = endpoint.spec.tenant
            key = f"{endpoint.spec.tenant}/{name}"
            rate, burst = endpoint.spec.rate_limit.per_second, endpoint.spec.rate_limit.burst
        elif "tenant" in request.match_info:
            key = f"tenant:{request.match_info['tenant']}"
            rate, burst = self._settings.tenant_rate_per_second, self._settings.tenant_rate_burst
        else:
            return await handler(request)
        wait = self._limiter.retry_after(key, rate, burst, time.monotonic())
        if wait:
            raise EdgeError(
                429,
                "RATE_LIMITED",
                f"rate limit of {rate:g} requests/s (burst {burst}) exceeded for {key[:240]}; "
                f"retry after {wait}s",
                {"Retry-After": str(wait)},
            )
        return await handler(request)
