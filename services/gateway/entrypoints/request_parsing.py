"""Reading provider requests strictly: the right content type, UTF-8, well-formed JSON or form.

Each failure is an `EdgeError` naming what was wrong and what was expected, so a provider's
developer can fix the request from the answer alone.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import orjson
from aiohttp import web

from ccmesh.channels import Channel
from ccmesh.configplane.models import ChannelEndpoint
from gateway.entrypoints.edge_middleware import EdgeError

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


def require_content_type(request: web.Request, expected: str) -> None:
    if request.content_type != expected:
        got = request.content_type or "none"
        raise EdgeError(415, "UNSUPPORTED_MEDIA_TYPE", f"Content-Type: expected {expected}, got {got[:100]}")


def _utf8(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise EdgeError(400, "INVALID_ARGUMENT", f"body: not valid UTF-8 (byte {error.start})") from None


async def read_json(request: web.Request) -> tuple[bytes, Any]:
    """The raw body (signatures cover these exact bytes) and its parsed JSON."""
    require_content_type(request, JSON)
    body = await request.read()
    return body, parse_json(body)


def parse_json(body: bytes) -> Any:
    _utf8(body)
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise EdgeError(400, "INVALID_ARGUMENT", f"body: not valid JSON ({error})") from None


async def read_form(request: web.Request) -> list[tuple[str, str]]:
    """Form parameters in their order, with repeated names kept (Twilio signs all of them)."""
    require_content_type(request, FORM)
    text = _utf8(await request.read())
    try:
        return parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict")
    except (UnicodeDecodeError, ValueError) as error:
        raise EdgeError(400, "INVALID_ARGUMENT", f"body: not a valid form ({type(error).__name__})") from None


def require_channel(endpoint: ChannelEndpoint, *channels: Channel) -> None:
    """A webhook path serves one kind of endpoint; another kind's name is as unknown as a typo."""
    if endpoint.spec.channel not in channels:
        raise EdgeError(
            404,
            "NOT_FOUND",
            f"endpoint {endpoint.metadata.name!r}: serves channel {endpoint.spec.channel}, "
            f"not {' or '.join(channels)}",
        )


def public_base(request: web.Request, public_base_url: str) -> str:
    """Where providers reach this gateway: the configured public base, else the request's own."""
    return public_base_url.rstrip("/") if public_base_url else f"{request.scheme}://{request.host}"


def public_url(request: web.Request, public_base_url: str) -> str:
    """The URL the provider requested (and signed): the configured public base, else our own."""
    return public_base(request, public_base_url) + request.raw_path
