"""One JSON access-log line per answered HTTP request, those refused before the app included.

aiohttp calls the access logger once for every answer it writes, also for a request whose
head it could not parse (a header line over the size limit, garbage on the port): such a
request never reaches the app's middlewares. The edge's `observe` middleware leaves what it
learnt (route, tenant, endpoint, error code, trace) on the request; a request without it was
refused by the HTTP protocol layer and is logged as `"route": "unparsed"`.

Lines never carry headers, tokens, signatures, bodies, or the bytes a client sent.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

import orjson
from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse

ACCESS_LOGGER = "gateway.access"
access_log = logging.getLogger(ACCESS_LOGGER)

#: What the edge learnt about a request, written as its access line once it is answered.
ACCESS_FIELDS = web.RequestKey("cc.access", dict[str, Any])

# aiohttp's parse errors quote the client's bytes after a colon or in a repr; only the part
# before them describes the problem without repeating what the client sent.
_CLIENT_BYTES = re.compile(r"""[:'"]""")
_BYTES_PREFIX = re.compile(r"\s+b$")


class _JsonLines(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes each access line as it is, on stderr."""


def configure_access_log() -> None:
    """Access lines are JSON documents on their own line, whatever format the root logger uses.

    Other handlers (a test's collector) may already be attached: ours is added beside them."""
    if not any(isinstance(handler, _JsonLines) for handler in access_log.handlers):
        handler = _JsonLines(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        access_log.addHandler(handler)
        access_log.propagate = False
    if access_log.level == logging.NOTSET:
        access_log.setLevel(logging.INFO)


def protocol_problem(response: StreamResponse) -> str:
    """The parse error aiohttp answered with (e.g. "Got more than 8190 bytes when reading")."""
    text = response.text if isinstance(response, web.Response) else None
    summary = _CLIENT_BYTES.split(text or "", maxsplit=1)[0].strip()
    return _BYTES_PREFIX.sub("", summary)[:160]


class EdgeAccessLogger(AbstractAccessLogger):
    """Writes the edge's access line; aiohttp calls it after each answer is sent."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        fields = request.get(ACCESS_FIELDS)
        if fields is None:
            # Refused while parsing the head: method and path are not known (or not trusted).
            fields = {
                "method": "",
                "route": "unparsed",
                "tenant": "",
                "endpoint": "",
                "error": "INVALID_ARGUMENT" if response.status >= 400 else "",
                "problem": protocol_problem(response),
                "trace_id": "",
                "span_id": "",
            }
        line = {
            "event": "http_request",
            **fields,
            "status": response.status,
            "duration_ms": round(time * 1000, 3),
        }
        self.logger.info(orjson.dumps(line).decode())
