"""`POST /v1/twilio/{endpoint}/recording`: Twilio's recording status callback.

The voice TwiML's `<Start><Recording>` names this URL with the call's contact. A completed
recording is fetched, kept and announced (`gateway.service_layer.recordings`); other statuses
are acknowledged and nothing is kept. A callback that is not signed by the endpoint's account
is refused (401); a wrong field is named (400); a provider that does not hand the audio over is
answered 503, so Twilio tries the callback again later.
"""

from __future__ import annotations

import logging

from aiohttp import web

from ccmesh.channels import Channel
from gateway.adapters.recording_store import RecordingFetchError
from gateway.domain.recording_audio import RecordingAudioError
from gateway.domain.recording_callback import RecordingCallbackError, parse_completed
from gateway.domain.twiml import empty_response
from gateway.entrypoints.edge_admission import verifies_caller
from gateway.entrypoints.edge_middleware import EdgeError, endpoint_of
from gateway.entrypoints.http import RouteAdder
from gateway.entrypoints.request_parsing import require_channel
from gateway.entrypoints.twilio_webhooks import twiml_response, verified_form
from gateway.service_layer.recordings import KeepRecording, RecordingEndpoint

log = logging.getLogger(__name__)


def twilio_recording_routes(keep: KeepRecording, *, public_base_url: str = "") -> RouteAdder:
    @verifies_caller
    async def recording(request: web.Request) -> web.Response:
        endpoint = endpoint_of(request)
        require_channel(endpoint, Channel.VOICE)
        fields = await verified_form(request, endpoint, public_base_url)
        credentials = endpoint.spec.twilio
        assert credentials is not None  # verified_form refuses an endpoint without them
        try:
            completed = parse_completed(fields, dict(request.query), endpoint.spec.provider_api_url)
        except RecordingCallbackError as error:
            raise EdgeError(400, "INVALID_ARGUMENT", str(error)) from None
        if completed is None:
            return twiml_response(empty_response())
        spec = endpoint.spec
        try:
            await keep(
                RecordingEndpoint(
                    tenant_id=spec.tenant,
                    brand_id=spec.brand,
                    language=(spec.language or "en").split("-")[0],
                    account_sid=credentials.account_sid,
                    auth_token=credentials.auth_token,
                ),
                completed,
            )
        except RecordingFetchError as error:
            log.warning("recording %s not fetched: %s", completed.recording_sid, error)
            raise EdgeError(503, "UNAVAILABLE", str(error), {"Retry-After": "5"}) from None
        except RecordingAudioError as error:
            # Asking again brings the same file: refused for good, and said so.
            log.error("recording %s not kept: %s", completed.recording_sid, error)
            raise EdgeError(422, "INVALID_ARGUMENT", str(error)) from None
        return twiml_response(empty_response())

    def add(app: web.Application) -> None:
        app.router.add_post("/v1/twilio/{endpoint}/recording", recording)

    return add
