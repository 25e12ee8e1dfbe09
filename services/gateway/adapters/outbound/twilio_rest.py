"""Twilio's REST API: SMS through Messages.json, call backs through Calls.json, and live calls
redirected to an agent through Calls/{CallSid}.json (`update_call`).

`POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json` with HTTP basic auth (account SID,
auth token) and a form body `To`, `From`, `Body`; Twilio answers 201 with the message `sid`.
Errors carry Twilio's JSON `{"code": ..., "message": ...}`.
"""

from __future__ import annotations

import base64

import aiohttp

from ccmesh.configplane.models import ChannelEndpoint
from gateway.adapters.outbound.base import (
    CALL_TIMEOUT_SECONDS,
    base_url,
    connection_failure,
    http_failure,
    json_body,
)
from gateway.domain.outbound_message import CallRequest, DeliveryFailed, OutboundMessage, Receipt
from gateway.domain.recording_callback import TWILIO_API as PUBLIC_API
from gateway.domain.voice_call import CallEnded, call_has_ended


class TwilioRest:
    name = "twilio"

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session

    async def send(self, endpoint: ChannelEndpoint, message: OutboundMessage) -> Receipt:
        form = {"To": message.to, "From": endpoint.spec.address, "Body": message.text}
        return await self._post(endpoint, "Messages.json", form)

    async def place_call(self, endpoint: ChannelEndpoint, call: CallRequest) -> Receipt:
        form = {"To": call.to, "From": endpoint.spec.address, "Url": call.answer_url, "Method": "POST"}
        if call.status_url:
            form |= {"StatusCallback": call.status_url, "StatusCallbackMethod": "POST"}
        return await self._post(endpoint, "Calls.json", form)

    async def update_call(self, endpoint: ChannelEndpoint, call_sid: str, twiml: str) -> Receipt:
        """Redirect a live call to new TwiML: `POST .../Calls/{CallSid}.json` with form field `Twiml`.

        Twilio answers 200 with the call; 404 (unknown call) or error 21220 (the call is no longer in
        progress) raise `CallEnded`, which no retry can change.
        """
        return await self._post(endpoint, f"Calls/{call_sid}.json", {"Twiml": twiml}, live_call=call_sid)

    async def _post(
        self, endpoint: ChannelEndpoint, resource: str, form: dict[str, str], *, live_call: str | None = None
    ) -> Receipt:
        credentials = endpoint.spec.twilio
        if credentials is None:
            raise DeliveryFailed(f"endpoint {endpoint.metadata.name}: no Twilio credentials", transient=False)
        if live_call is not None and (not live_call.isascii() or not live_call.isalnum()):
            raise DeliveryFailed(f"call {live_call!r}: not a Twilio CallSid", transient=False)
        url = f"{base_url(endpoint, PUBLIC_API)}/2010-04-01/Accounts/{credentials.account_sid}/{resource}"
        try:
            async with self._session.post(
                url,
                data=form,
                headers={"Authorization": _basic_auth(credentials.account_sid, credentials.auth_token)},
                timeout=aiohttp.ClientTimeout(total=CALL_TIMEOUT_SECONDS),
            ) as response:
                body = await json_body(response)
                if response.status >= 300:
                    detail = f"Twilio error {body.get('code', '')}: {body.get('message', '')}".strip()
                    if live_call is not None and call_has_ended(response.status, body.get("code")):
                        raise CallEnded(f"HTTP {response.status}: {detail}"[:500])
                    raise await http_failure(response, detail)
        except (aiohttp.ClientError, TimeoutError) as error:
            raise connection_failure(error) from None
        return Receipt(str(body.get("sid", live_call or "")))


def _basic_auth(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
