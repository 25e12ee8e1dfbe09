"""The JSON frame protocol shared by the web chat and agent sockets (docs/websocket-api.md).

Pure: decoding a client frame, reading its fields with errors that name them, the flood guard,
and the close codes. A frame that is not a JSON object with a string `type` is a protocol
violation (close 4400); a well-formed message with a bad field only earns an error reply.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from gateway.domain.rate_limit import TokenBucket

MAX_FRAME_BYTES = 64 * 1024
MAX_ID_CHARS = 64
MAX_TEXT_CHARS = 4096

CLOSE_BAD_MESSAGE = 4400
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_TIMEOUT = 4408
CLOSE_FLOODING = 4429
CLOSE_TOO_BIG = 1009
#: A platform service the socket needs did not answer; the client reconnects.
CLOSE_INTERNAL = 1011


class BadFrame(Exception):
    """The frame breaks the protocol itself; the socket is closed with 4400."""


class SocketError(Exception):
    """A message the server cannot act on: answered with an error reply, the socket stays open.

    `code` is one of bad_request, forbidden, not_found, conflict, unavailable, internal.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def bad_request(message: str) -> SocketError:
    return SocketError("bad_request", message)


@dataclass(frozen=True)
class ClientMessage:
    type: str
    id: str | None
    body: Mapping[str, Any]

    def text(self, name: str, *, max_chars: int = MAX_TEXT_CHARS, required: bool = True) -> str:
        """A string field; required ones must not be blank."""
        value = self.body.get(name)
        if value is None and not required:
            return ""
        if not isinstance(value, str) or (required and not value.strip()):
            raise bad_request(f"{name}: required, a non-empty string")
        if len(value) > max_chars:
            raise bad_request(f"{name}: at most {max_chars} characters, got {len(value)}")
        return value

    def choice(self, name: str, options: Collection[str]) -> str:
        value = self.body.get(name)
        if value not in options:
            raise bad_request(f"{name}: must be one of {sorted(options)}")
        return str(value)

    def number(self, name: str, *, default: float, low: float, high: float) -> float:
        value = self.body.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            raise bad_request(f"{name}: a number from {low:g} to {high:g}")
        return float(value)


def parse_frame(data: str) -> ClientMessage:
    try:
        body = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        raise BadFrame(f"not JSON ({error.msg})") from None
    if not isinstance(body, dict):
        raise BadFrame("a frame must be a JSON object")
    kind = body.get("type")
    if not isinstance(kind, str) or not kind:
        raise BadFrame("a frame needs a string `type`")
    message_id = body.get("id")
    if message_id is not None and (not isinstance(message_id, str) or len(message_id) > MAX_ID_CHARS):
        # The id cannot be echoed, but the message is still answered: an error without an id.
        raise SocketError("bad_request", f"id: a string of at most {MAX_ID_CHARS} characters")
    return ClientMessage(kind, message_id, body)


def error_reply(code: str, message: str, message_id: str | None) -> dict[str, Any]:
    return {"type": "error", "code": code, "message": message, "id": message_id}


class FloodGuard:
    """A token bucket per socket: `rate` messages per second sustained, bursts up to `burst`."""

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self._bucket = TokenBucket(rate, burst, updated_at=now)

    def allow(self, now: float) -> bool:
        return self._bucket.take(now) == 0.0
