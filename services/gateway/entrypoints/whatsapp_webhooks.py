"""WhatsApp Cloud API webhook: `GET` and `POST /v1/whatsapp/{endpoint}`.

GET is Meta's subscription check: the endpoint's verify token must match, then the challenge
is echoed as text. POSTs must carry `X-Hub-Signature-256` over the raw body with the app
secret (else 401, nothing read further). A signed payload is always answered 200 once every
message in it is accepted, even when parts of it are not understood (those are reported in
the answer and the log), because Meta re-sends anything not answered with 200.

The sender's `wa_id` is their phone number without `+`; the message is accepted from the
phone identifier `+<wa_id>`, so identity links WhatsApp with SMS and voice of the same person.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from ccmesh.channels import Channel
from ccmesh.configplane.models import ChannelEndpoint
from contactcenter.common.v1 import common_pb2
from gateway.adapters.provider_receipts import ProviderReceipts
from gateway.domain.inbound import InboundMessage
from gateway.domain.whatsapp_payload import PayloadError, WhatsAppStatus, parse_payload
from gateway.domain.whatsapp_signature import valid_whatsapp_signature
from gateway.entrypoints.edge_admission import admit_verified, verifies_caller
from gateway.entrypoints.edge_middleware import EdgeError, endpoint_of
from gateway.entrypoints.http import RouteAdder
from gateway.entrypoints.inbound_port import AcceptInbound, accept_checked
from gateway.entrypoints.request_parsing import JSON, parse_json, require_channel, require_content_type
from gateway.service_layer.delivery_receipts import record_provider_status
from gateway.service_layer.ports import GatewayEvents

log = logging.getLogger(__name__)

#: Meta's challenge is a short number; anything long is not Meta and is not echoed.
MAX_CHALLENGE_CHARS = 200

#: Records a delivery status Meta reports for one of our outbound messages; False: not ours.
StatusSink = Callable[[ChannelEndpoint, WhatsAppStatus], Awaitable[bool]]


def whatsapp_status_sink(region: str, receipts: ProviderReceipts, events: GatewayEvents) -> StatusSink:
    """Meta's status reports become MessageStatusChanged on the contact of our message."""

    async def record(endpoint: ChannelEndpoint, status: WhatsAppStatus) -> bool:
        return await record_provider_status(
            region=region,
            tenant_id=endpoint.spec.tenant,
            provider="whatsapp_cloud",
            channel=common_pb2.CHANNEL_KIND_WHATSAPP,
            provider_message_id=status.message_id,
            status=status.status,
            reason=status.reason,
            receipts=receipts,
            events=events,
        )

    return record


def _credentials(endpoint: ChannelEndpoint) -> tuple[str, str, str]:
    credentials = endpoint.spec.whatsapp
    if credentials is None:  # the config plane refuses such a document; guard anyway
        raise EdgeError(404, "NOT_FOUND", f"endpoint {endpoint.metadata.name!r}: has no WhatsApp credentials")
    return credentials.phone_number_id, credentials.app_secret, credentials.verify_token


def whatsapp_routes(accept: AcceptInbound, *, statuses: StatusSink | None = None) -> RouteAdder:
    @verifies_caller
    async def verify(request: web.Request) -> web.Response:
        endpoint = endpoint_of(request)
        require_channel(endpoint, Channel.WHATSAPP)
        _, _, verify_token = _credentials(endpoint)
        query = request.query
        if query.get("hub.mode") != "subscribe":
            raise EdgeError(400, "INVALID_ARGUMENT", 'hub.mode: must be "subscribe"')
        challenge = query.get("hub.challenge", "")
        if not challenge or len(challenge) > MAX_CHALLENGE_CHARS:
            raise EdgeError(
                400, "INVALID_ARGUMENT", f"hub.challenge: required, at most {MAX_CHALLENGE_CHARS} characters"
            )
        offered = query.get("hub.verify_token", "")
        if not hmac.compare_digest(offered.encode(), verify_token.encode()):
            raise EdgeError(
                403, "PERMISSION_DENIED", "hub.verify_token: does not match the endpoint's verify token"
            )
        admit_verified(request)
        return web.Response(text=challenge, content_type="text/plain")

    @verifies_caller
    async def receive(request: web.Request) -> web.Response:
        endpoint = endpoint_of(request)
        require_channel(endpoint, Channel.WHATSAPP)
        phone_number_id, app_secret, _ = _credentials(endpoint)
        require_content_type(request, JSON)
        body = await request.read()
        signature = request.headers.get("X-Hub-Signature-256")
        if not valid_whatsapp_signature(app_secret, body, signature):
            problem = "missing" if not signature else "does not match the body"
            raise EdgeError(401, "UNAUTHENTICATED", f"X-Hub-Signature-256: {problem}")
        admit_verified(request)
        try:
            payload = parse_payload(parse_json(body))
        except PayloadError as error:
            raise EdgeError(400, "INVALID_ARGUMENT", str(error)) from None
        skipped = list(payload.skipped)
        accepted: list[dict[str, object]] = []
        for message in payload.messages:
            if message.phone_number_id and message.phone_number_id != phone_number_id:
                skipped.append(f"message {message.message_id}: for phone number id {message.phone_number_id}")
                continue
            inbound = InboundMessage(
                tenant_id=endpoint.spec.tenant,
                brand_id=endpoint.spec.brand,
                channel=common_pb2.CHANNEL_KIND_WHATSAPP,
                from_kind=common_pb2.IDENTIFIER_KIND_PHONE,
                from_value=f"+{message.wa_id}",
                entry_point=endpoint.metadata.name,
                text=message.text,
                provider_message_id=message.message_id,
                language=endpoint.spec.language,
                sender_name=message.profile_name,
            )
            try:
                result, duplicate = await accept_checked(accept, inbound)
            except EdgeError as error:
                if error.status != 400:
                    raise  # ours to fix (busy, unavailable): Meta's retry will find it done or do it
                # A message that can never be accepted (e.g. too long) must not make Meta re-send
                # the whole payload forever; it is reported and the rest goes on.
                skipped.append(f"message {message.message_id[:100]}: {error.message}")
                continue
            accepted.append(
                {"messageId": result.message_id, "contactId": result.contact_id, "duplicate": duplicate}
            )
        recorded = 0
        for status in payload.statuses:
            if statuses is not None and await statuses(endpoint, status):
                recorded += 1
            else:
                skipped.append(f"status {status.status} of {status.message_id}: no outbound message of ours")
        if skipped:
            log.info(
                "whatsapp webhook %s: not processed: %s", endpoint.metadata.name, "; ".join(skipped)[:2000]
            )
        return web.json_response({"accepted": accepted, "statuses": recorded, "skipped": skipped})

    def add(app: web.Application) -> None:
        app.router.add_get("/v1/whatsapp/{endpoint}", verify)
        app.router.add_post("/v1/whatsapp/{endpoint}", receive)

    return add
