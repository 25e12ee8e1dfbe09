"""Twilio's SMS webhook: `POST /v1/twilio/{endpoint}/sms`.

Every request must carry a valid `X-Twilio-Signature` for the URL Twilio called (the public
one, `CC_PUBLIC_BASE_URL`) and its form parameters; otherwise 401 and nothing is created.
`MessageSid` is the provider message id, so Twilio's retries are answered without a second
message. The answer is an empty `<Response/>`: replies reach the customer through Twilio's
REST API from the outbound consumer, not through the webhook's answer.
"""

from __future__ import annotations

from aiohttp import web

from ccmesh.channels import Channel
from ccmesh.configplane.models import ChannelEndpoint
from contactcenter.common.v1 import common_pb2
from gateway.domain.inbound import InboundMessage
from gateway.domain.twilio_signature import valid_twilio_signature
from gateway.domain.twiml import empty_response
from gateway.entrypoints.edge_admission import admit_verified, verifies_caller
from gateway.entrypoints.edge_middleware import EdgeError, endpoint_of
from gateway.entrypoints.http import RouteAdder
from gateway.entrypoints.inbound_port import AcceptInbound, accept_checked
from gateway.entrypoints.request_parsing import public_url, read_form, require_channel

TWIML = "text/xml"
#: Twilio sends at most 10 media items per message.
MAX_MEDIA = 10


async def verified_form(
    request: web.Request, endpoint: ChannelEndpoint, public_base_url: str
) -> dict[str, str]:
    """The form parameters of a request proven to come from the endpoint's Twilio account.

    The proof spends the endpoint's rate limit: the handler must be marked `@verifies_caller`."""
    params = await read_form(request)
    credentials = endpoint.spec.twilio
    signature = request.headers.get("X-Twilio-Signature")
    if credentials is None or not valid_twilio_signature(
        public_url(request, public_base_url), params, credentials.auth_token, signature
    ):
        problem = "missing" if not signature else "does not match the URL and parameters"
        raise EdgeError(401, "UNAUTHENTICATED", f"X-Twilio-Signature: {problem}")
    admit_verified(request)
    fields: dict[str, str] = {}
    for name, value in params:
        fields.setdefault(name, value)
    return fields


def required(fields: dict[str, str], name: str) -> str:
    value = fields.get(name, "").strip()
    if not value:
        raise EdgeError(400, "INVALID_ARGUMENT", f"{name}: required")
    return value


def sms_text(fields: dict[str, str]) -> str:
    """The message body followed by a reference line per media item (MMS)."""
    lines = [fields.get("Body", "")]
    count = fields.get("NumMedia", "0")
    media = int(count) if count.isdigit() else 0
    for index in range(min(media, MAX_MEDIA)):
        url = fields.get(f"MediaUrl{index}", "")
        if url:
            kind = fields.get(f"MediaContentType{index}", "application/octet-stream")
            lines.append(f"[media {kind} {url}]")
    return "\n".join(line for line in lines if line)


def twiml_response(text: str) -> web.Response:
    return web.Response(text=text, content_type=TWIML, charset="utf-8")


def twilio_sms_routes(accept: AcceptInbound, *, public_base_url: str = "") -> RouteAdder:
    @verifies_caller
    async def sms(request: web.Request) -> web.Response:
        endpoint = endpoint_of(request)
        require_channel(endpoint, Channel.SMS)
        fields = await verified_form(request, endpoint, public_base_url)
        message = InboundMessage(
            tenant_id=endpoint.spec.tenant,
            brand_id=endpoint.spec.brand,
            channel=common_pb2.CHANNEL_KIND_SMS,
            from_kind=common_pb2.IDENTIFIER_KIND_PHONE,
            from_value=required(fields, "From"),
            entry_point=endpoint.metadata.name,
            text=sms_text(fields),
            provider_message_id=fields.get("MessageSid")
            or fields.get("SmsSid")
            or required(fields, "MessageSid"),
        )
        await accept_checked(accept, message)
        return twiml_response(empty_response())

    def add(app: web.Application) -> None:
        app.router.add_post("/v1/twilio/{endpoint}/sms", sms)

    return add
