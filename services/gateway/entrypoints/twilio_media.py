"""`GET /v1/twilio/{endpoint}/media`: the WebSocket Twilio streams a call's audio into.

The voice TwiML's `<Start><Stream>` points here with custom parameters binding the stream to
the call's contact (`contact`, `callSid`, and `token`, signed with the endpoint's auth token;
see `gateway.domain.media_stream`). The messages are Twilio's (`connected`, `start`, `media`,
`mark`, `dtmf`, `stop`); media frames are relayed to the ai service's recogniser.

Anything wrong closes this socket only, with a reason naming the problem (WebSocket close 1008
"policy violation", or 1003 for a binary frame): a message that is not JSON, an unknown event,
media before `start`, a `start` whose token does not prove the call, another format than
8 kHz μ-law mono, a payload over the size limit. What was relayed before stays relayed and is
ended cleanly. A socket that just stops (the call dropped) ends its stream the same way.
Back-pressure: frames are read one at a time and relayed before the next is read, so a slow
relay slows the reader (TCP pushes back on Twilio) instead of buffering without bound.
"""

from __future__ import annotations

import logging

from aiohttp import WSMsgType, web

from ccmesh.channels import Channel
from gateway.domain.media_stream import (
    MAX_MESSAGE_BYTES,
    Connected,
    Dtmf,
    Mark,
    Media,
    MediaStreamError,
    Start,
    Stop,
    parse,
    valid_stream_token,
)
from gateway.entrypoints.edge_middleware import EdgeError, endpoint_of
from gateway.entrypoints.http import RouteAdder
from gateway.entrypoints.request_parsing import require_channel
from gateway.entrypoints.twilio_media_relay import MediaRelay, StreamBinding, StreamRelay

log = logging.getLogger(__name__)
#: WebSocket close codes: policy violation, unsupported data.
POLICY_VIOLATION = 1008
UNSUPPORTED_DATA = 1003


def twilio_media_routes(relay: MediaRelay) -> RouteAdder:
    async def media(request: web.Request) -> web.StreamResponse:
        endpoint = endpoint_of(request)
        require_channel(endpoint, Channel.VOICE)
        credentials = endpoint.spec.twilio
        if credentials is None:
            raise EdgeError(404, "NOT_FOUND", "endpoint: no Twilio account to verify media streams with")
        socket = web.WebSocketResponse(max_msg_size=MAX_MESSAGE_BYTES, heartbeat=30)
        await socket.prepare(request)
        stream: StreamRelay | None = None
        start: Start | None = None
        try:
            async for message in socket:
                if message.type != WSMsgType.TEXT:
                    if message.type == WSMsgType.ERROR:
                        break
                    await socket.close(code=UNSUPPORTED_DATA, message=b"binary frames are not media messages")
                    break
                parsed = parse(message.data)
                if isinstance(parsed, Start):
                    if start is not None:
                        raise MediaStreamError("start: the stream has already started")
                    contact = parsed.parameters.get("contact", "")
                    token = parsed.parameters.get("token", "")
                    name = endpoint.metadata.name
                    if not contact or not valid_stream_token(
                        credentials.auth_token, name, contact, parsed.call_sid, token
                    ):
                        raise MediaStreamError("start.customParameters.token: does not prove this call")
                    start = parsed
                    stream = relay.stream(
                        StreamBinding(
                            tenant_id=endpoint.spec.tenant,
                            brand_id=endpoint.spec.brand,
                            contact_id=contact,
                            stream_id=parsed.stream_sid,
                            language=(endpoint.spec.language or "en").split("-")[0],
                        )
                    )
                elif isinstance(parsed, Media):
                    if stream is None or start is None:
                        raise MediaStreamError("media: before start")
                    if parsed.track not in start.tracks:
                        raise MediaStreamError(f"media.track: {parsed.track!r} was not started")
                    await stream.frame(parsed.track, parsed.chunk, parsed.timestamp_ms, parsed.payload)
                elif isinstance(parsed, Stop):
                    await socket.close()
                    break
                elif isinstance(parsed, Connected | Mark | Dtmf):
                    continue
        except MediaStreamError as error:
            log.info("media stream on %s closed: %s", endpoint.metadata.name, error)
            await socket.close(code=POLICY_VIOLATION, message=str(error)[:120].encode())
        finally:
            if stream is not None:
                try:
                    await stream.end()
                except Exception as error:  # NATS away: the socket is gone anyway; say so, do not mask
                    log.error("media stream on %s: end not relayed: %r", endpoint.metadata.name, error)
        return socket

    def add(app: web.Application) -> None:
        app.router.add_get("/v1/twilio/{endpoint}/media", media)

    return add
