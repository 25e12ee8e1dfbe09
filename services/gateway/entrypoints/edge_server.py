"""The gateway's HTTP server: connection limits that close slow or oversized clients.

aiohttp's protocol already has the timers and limits; this module sets them from config:
- `idle_seconds` (aiohttp's keep-alive timeout): a connection must complete a request head
  within this time of opening or of its previous answer. Bytes of an unfinished head do not
  extend it, so a client trickling its headers (slow loris) is closed like an idle one.
- `max_line_bytes`, `max_field_bytes`, `max_headers`: a head over them is answered 400 and
  the connection closed, before any route runs.
The body has its own deadline, in the edge middleware (`EdgeSettings.body_read_seconds`).

aiohttp reports a head it cannot parse with a traceback at ERROR on its server logger. That is
a client's mistake or an attack, not ours: those records are dropped here, and the request's
access line (see `edge_access_log`) is its one trace in the log.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from gateway.entrypoints.edge_access_log import EdgeAccessLogger, access_log

#: The protocol's own logger; errors other than a client's unparsable request stay on it.
protocol_log = logging.getLogger("gateway.http_protocol")


@dataclass(frozen=True)
class ServerLimits:
    idle_seconds: float = 75.0
    max_line_bytes: int = 8190
    max_field_bytes: int = 8190
    max_headers: int = 128


class _ClientParseErrors(logging.Filter):
    """Drops aiohttp's traceback for a request head it refused (logged once as an access line)."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, HttpProcessingError)


_PARSE_ERROR_FILTER = _ClientParseErrors()


async def start_server(app: web.Application, host: str, port: int, limits: ServerLimits) -> web.AppRunner:
    if _PARSE_ERROR_FILTER not in protocol_log.filters:
        protocol_log.addFilter(_PARSE_ERROR_FILTER)
    runner = web.AppRunner(
        app,
        access_log=access_log,
        access_log_class=EdgeAccessLogger,
        logger=protocol_log,
        keepalive_timeout=limits.idle_seconds,
        max_line_size=limits.max_line_bytes,
        max_field_size=limits.max_field_bytes,
        max_headers=limits.max_headers,
    )
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
