"""Twilio's voice webhooks: the call, the caller's answers, and what a queued caller hears.

- `POST /v1/twilio/{endpoint}/voice`: a call started (inbound, or our own call back placed
  through the Calls API with `?contact=<id>`, which continues that contact). The call is an
  inbound message of channel voice (provider id `<CallSid>:call`); the journey's actions come
  back from the use case and are answered as TwiML.
- `POST /v1/twilio/{endpoint}/voice/gather?step=N&contact=<id>`: what the caller keyed
  (`Digits`) or said (`SpeechResult`) continues the journey (provider id `<CallSid>:gather:N`,
  so Twilio's retry of the same step is answered with the same TwiML and nothing new).
- `POST /v1/twilio/{endpoint}/voice/wait`: Enqueue's waitUrl: the caller's place in the queue and
  the estimated wait (Twilio's QueuePosition and AvgQueueTime), the hold message, and a
  `<Redirect>` back here, until an agent's accept redirects the live call (service_layer/voice_bridge).

A queue-only endpoint (no journey) greets the caller and enqueues them in its queue; an endpoint
with a journey answers with the journey's TwiML (`<Gather>` for keys and speech, then `<Enqueue>`).
With `media_streams` (CC_VOICE_MEDIA_STREAMS), the first answer starts a Media Stream of both
tracks to `/v1/twilio/{endpoint}/media` (see twilio_media) for live transcription.
- `POST /v1/twilio/{endpoint}/voice/hold-key`: a key the caller on hold pressed (the hold
  message is a `<Gather>` for one key when the gateway keeps queued callbacks): 1 keeps their
  place as a call-back request to the calling number and the call ends; anything else, or a
  contact that waits in no queue any more, goes back on hold.
- `POST /v1/twilio/{endpoint}/voice/status`: Twilio's StatusCallback; an ended call is recorded,
  and a caller who hung up while queued abandons the contact (see service_layer/voice_bridge).

Every request must carry a valid `X-Twilio-Signature` (see twilio_webhooks).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable
from urllib.parse import urlencode

from aiohttp import web
from nats.errors import Error as NatsError

from ccmesh.channels import Channel
from ccmesh.configplane.models import ChannelEndpoint
from ccpolicy import Action
from contactcenter.common.v1 import common_pb2
from gateway.adapters.voice_calls import CallRecordBusy
from gateway.domain.call_audio import call_audio_plan
from gateway.domain.conversation import JourneyAction
from gateway.domain.inbound import Accepted, InboundMessage
from gateway.domain.media_stream import stream_token
from gateway.domain.twiml import (
    CALLBACK_KEY,
    DEFAULT_CALLBACK_KEPT,
    CallRecording,
    MediaStream,
    QueueWait,
    VoiceUrls,
    empty_response,
    render_hangup,
    render_hold,
    render_no_input,
    render_redirect,
    render_voice,
)
from gateway.domain.voice_call import CALL_STATUSES, dial_agent_twiml, queue_entry
from gateway.entrypoints.edge_admission import verifies_caller
from gateway.entrypoints.edge_middleware import EdgeError, endpoint_of
from gateway.entrypoints.http import RouteAdder
from gateway.entrypoints.inbound_port import AcceptInbound, accept_checked
from gateway.entrypoints.request_parsing import public_base, require_channel
from gateway.entrypoints.twilio_webhooks import required, twiml_response, verified_form
from gateway.service_layer.consent_gate import ConsentGate
from gateway.service_layer.voice_bridge import VoiceBridge

#: Silent answers in a row after which the call ends instead of asking again.
MAX_SILENT_ANSWERS = 2
NO_INPUT_SECONDS = 8
_CONTACT_ID_CHARS = frozenset("0123456789abcdefABCDEF-")


def _base(request: web.Request, public_base_url: str, endpoint: ChannelEndpoint) -> str:
    return f"{public_base(request, public_base_url)}/v1/twilio/{endpoint.metadata.name}/voice"


def _contact_hint(request: web.Request) -> str:
    contact = request.query.get("contact", "")
    if contact and (len(contact) > 64 or not set(contact) <= _CONTACT_ID_CHARS):
        raise EdgeError(400, "INVALID_ARGUMENT", "contact: not a contact id")
    return contact


def _step(request: web.Request, name: str) -> int:
    raw = request.query.get(name, "0")
    if not raw.isascii() or not raw.isdigit() or len(raw) > 6:
        raise EdgeError(400, "INVALID_ARGUMENT", f"{name}: must be a small whole number")
    return int(raw)


def _caller(fields: dict[str, str]) -> str:
    # On a call we placed (a call back), Twilio's From is our number and To is the customer.
    if fields.get("Direction", "inbound").startswith("outbound"):
        return required(fields, "To")
    return required(fields, "From")


def _count(fields: dict[str, str], name: str) -> int:
    # Twilio's queue numbers; anything that is not a small whole number is treated as not said.
    raw = fields.get(name, "")
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 6 else 0


def _queue_only(endpoint: ChannelEndpoint) -> bool:
    return bool(endpoint.spec.queue) and not endpoint.spec.flow


def _hands_off(endpoint: ChannelEndpoint, actions: Iterable[JourneyAction]) -> bool:
    # The journey queued the call (its TwiML is an Enqueue), or the endpoint queues calls directly,
    # unless the call ends now (a caller deflected by back-pressure never waits).
    kinds = {action.kind for action in actions}
    if "hand_off" in kinds:
        return True
    return _queue_only(endpoint) and "ended" not in kinds


@contextlib.asynccontextmanager
async def _call_records() -> AsyncIterator[None]:
    try:
        yield
    except (CallRecordBusy, TimeoutError, NatsError):
        # Twilio retries a 503; the step was accepted idempotently, so its retry is answered the same.
        raise EdgeError(
            503, "UNAVAILABLE", "the call could not be recorded now; retry later", {"Retry-After": "1"}
        ) from None


def _media_stream(
    request: web.Request, public_base_url: str, endpoint: ChannelEndpoint, contact_id: str, call_sid: str
) -> MediaStream | None:
    credentials = endpoint.spec.twilio
    if credentials is None:
        return None
    base = public_base(request, public_base_url).replace("https://", "wss://").replace("http://", "ws://")
    token = stream_token(credentials.auth_token, endpoint.metadata.name, contact_id, call_sid)
    return MediaStream(
        url=f"{base}/v1/twilio/{endpoint.metadata.name}/media",
        parameters={"contact": contact_id, "token": token},
    )


async def _allows(
    consent: ConsentGate | None, action: Action, endpoint: ChannelEndpoint, accepted: Accepted
) -> bool:
    """Whether the region's compliance rules let the call be streamed (transcribed) or recorded."""
    if consent is None:
        return True
    decision = await consent.permits(
        action,
        tenant_id=endpoint.spec.tenant,
        brand_id=endpoint.spec.brand,
        customer_id=accepted.customer_id,
        contact_id=accepted.contact_id,
    )
    return decision.allowed


def _call_recording(
    request: web.Request,
    public_base_url: str,
    endpoint: ChannelEndpoint,
    contact_id: str,
    *,
    transcribe_after: bool,
) -> CallRecording:
    query = urlencode({"contact": contact_id, "transcribe": "1" if transcribe_after else "0"})
    base = public_base(request, public_base_url)
    return CallRecording(status_url=f"{base}/v1/twilio/{endpoint.metadata.name}/recording?{query}")


def twilio_voice_routes(
    accept: AcceptInbound,
    *,
    public_base_url: str = "",
    bridge: VoiceBridge | None = None,
    media_streams: bool = False,
    consent: ConsentGate | None = None,
) -> RouteAdder:
    async def answer(
        request: web.Request, endpoint: ChannelEndpoint, fields: dict[str, str], step: int, text: str
    ) -> web.Response:
        call_sid = required(fields, "CallSid")
        contact_hint = _contact_hint(request)
        provider_id = f"{call_sid}:call" if step == 0 else f"{call_sid}:gather:{step}"
        accepted, _ = await accept_checked(
            accept,
            InboundMessage(
                tenant_id=endpoint.spec.tenant,
                brand_id=endpoint.spec.brand,
                channel=common_pb2.CHANNEL_KIND_VOICE,
                from_kind=common_pb2.IDENTIFIER_KIND_PHONE,
                from_value=_caller(fields),
                entry_point=endpoint.metadata.name,
                text=text,
                provider_message_id=provider_id,
                contact_hint=contact_hint,
                language=endpoint.spec.language,
            ),
        )
        base = _base(request, public_base_url, endpoint)
        # A call back placed for the agent who accepted it names them: answered, it goes to them.
        # Answered after that contact closed, it is a new contact, and goes the way any call goes
        # (put through to the agent as well, it would be theirs and in the queue at once).
        continues_hint = bool(contact_hint) and accepted.contact_id == contact_hint
        called_back_for = request.query.get("agent", "") if step == 0 and continues_hint else ""
        if bridge is not None:
            # The CallSid an agent's accept redirects, and whether the caller now waits in a queue.
            async with _call_records():
                await bridge.call_answered(
                    endpoint,
                    call_sid=call_sid,
                    contact_id=accepted.contact_id,
                    queued=not called_back_for and _hands_off(endpoint, accepted.actions),
                    wait_url=f"{base}/wait",
                )
        if called_back_for:
            return twiml_response(dial_agent_twiml(called_back_for))
        query = {"step": str(step + 1), "contact": accepted.contact_id}
        urls = VoiceUrls(gather=f"{base}/gather?{urlencode(query)}", wait=f"{base}/wait")
        actions = accepted.actions
        if step == 0 and not actions and _queue_only(endpoint):
            spec = endpoint.spec
            actions = queue_entry(spec.queue, spec.prompts, spec.language)
        # The call's audio is streamed for live transcription from its first answer on, where the
        # region's compliance rules allow it (e.g. only with the caller's consent).
        # Recorded where the endpoint asks for it and the region's rules allow it; the status
        # callback says whether the recording is to be transcribed after the call.
        first = step == 0
        records = endpoint.spec.record_calls and first
        plan = call_audio_plan(
            media_streams=media_streams and first,
            record_calls=records,
            may_transcribe=(media_streams or records)
            and first
            and await _allows(consent, Action.TRANSCRIBE, endpoint, accepted),
            may_record=records and await _allows(consent, Action.RECORD, endpoint, accepted),
        )
        stream = (
            _media_stream(request, public_base_url, endpoint, accepted.contact_id, call_sid)
            if plan.stream
            else None
        )
        recording = (
            _call_recording(
                request,
                public_base_url,
                endpoint,
                accepted.contact_id,
                transcribe_after=plan.transcribe_after,
            )
            if plan.record
            else None
        )
        return twiml_response(
            render_voice(
                actions, urls=urls, language=endpoint.spec.language, stream=stream, recording=recording
            )
        )

    @verifies_caller
    async def call(request: web.Request) -> web.Response:
        endpoint = endpoint_of(request)
        require_channel(endpoint, Channel.VOICE)
        fields = await verified_form(request, endpoint, public_base_url)
        return await answer(request, endpoint, fields, 0, "")

    @verifies_caller
    async def gather(request: web.Request) -> web.Response:
        endpoint = endpoint_of(request)
        require_channel(endpoint, Channel.VOICE)
        fields = await verified_form(request, endpoint, public_base_url)
        step = max(1, _step(request, "step"))
        said = (fields.get("Digits") or fields.get("SpeechResult") or "").strip()
        if said:
            return await answer(request, endpoint, fields, step, said)
        # Silence: ask again a couple of times (the journey keeps waiting), then end the call.
        silent = _step(request, "silent") + 1
        prompts, language = endpoint.spec.prompts, endpoint.spec.language
        if silent > MAX_SILENT_ANSWERS:
            return twiml_response(render_hangup(prompt=prompts.get("goodbye", ""), language=language))
        query = {"step": str(step), "silent": str(silent), "contact": _contact_hint(request)}
        again = f"{_base(request, public_base_url, endpoint)}/gather?{urlencode(query)}"
        prompt = prompts.get("no-input", "Sorry, I did not get that. Please try again.")
        return twiml_response(
            render_no_input(
                gather_url=again, prompt=prompt, timeout_seconds=NO_INPUT_SECONDS, language=language
            )
        )

    @verifies_caller
    async def wait(request: web.Request) -> web.Response:
        endpoint = endpoint_of(request)
        require_channel(endpoint, Channel.VOICE)
        fields = await verified_form(request, endpoint, public_base_url)
        wait_now = QueueWait(
            position=_count(fields, "QueuePosition"), average_wait_seconds=_count(fields, "AvgQueueTime")
        )
        base = _base(request, public_base_url, endpoint)
        return twiml_response(
            render_hold(
                prompts=endpoint.spec.prompts,
                language=endpoint.spec.language,
                wait=wait_now,
                wait_url=f"{base}/wait",
                callback_url=f"{base}/hold-key" if bridge is not None and bridge.keeps_callbacks else "",
            )
        )

    @verifies_caller
    async def hold_key(request: web.Request) -> web.Response:
        endpoint = endpoint_of(request)
        require_channel(endpoint, Channel.VOICE)
        fields = await verified_form(request, endpoint, public_base_url)
        call_sid = required(fields, "CallSid")
        prompts, language = endpoint.spec.prompts, endpoint.spec.language
        if fields.get("Digits", "").strip() == CALLBACK_KEY and bridge is not None:
            async with _call_records():
                kept = await bridge.leave_for_callback(endpoint, call_sid=call_sid, number=_caller(fields))
            if kept:
                return twiml_response(
                    render_hangup(
                        prompt=prompts.get("callback-kept", DEFAULT_CALLBACK_KEPT), language=language
                    )
                )
        return twiml_response(render_redirect(f"{_base(request, public_base_url, endpoint)}/wait"))

    @verifies_caller
    async def status(request: web.Request) -> web.Response:
        endpoint = endpoint_of(request)
        require_channel(endpoint, Channel.VOICE)
        fields = await verified_form(request, endpoint, public_base_url)
        call_sid = required(fields, "CallSid")
        call_status = required(fields, "CallStatus")
        if call_status not in CALL_STATUSES:
            raise EdgeError(400, "INVALID_ARGUMENT", f"CallStatus: unknown status {call_status[:40]!r}")
        assert bridge is not None  # the route exists only with a bridge
        async with _call_records():
            await bridge.call_status(endpoint, call_sid=call_sid, status=call_status)
            try:
                await bridge.callback_status(endpoint, request.query, call_status)
            except ValueError as error:
                raise EdgeError(400, "INVALID_ARGUMENT", str(error)) from None
        return twiml_response(empty_response())

    def add(app: web.Application) -> None:
        app.router.add_post("/v1/twilio/{endpoint}/voice", call)
        app.router.add_post("/v1/twilio/{endpoint}/voice/gather", gather)
        app.router.add_post("/v1/twilio/{endpoint}/voice/wait", wait)
        app.router.add_post("/v1/twilio/{endpoint}/voice/hold-key", hold_key)
        if bridge is not None:
            app.router.add_post("/v1/twilio/{endpoint}/voice/status", status)

    return add
