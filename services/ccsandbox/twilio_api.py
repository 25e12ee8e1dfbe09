"""Twilio's REST API as the platform's adapters call it (API version 2010-04-01).

- `POST /2010-04-01/Accounts/{AccountSid}/Messages.json` (To, From, Body): 201 with the message;
- `POST .../Calls.json` (To, From, Url or Twiml, StatusCallback): 201, and the sandbox's caller
  answers the call (it fetches `Url` as Twilio would and follows the TwiML);
- `POST .../Calls/{CallSid}.json` (Twiml, Url or Status=completed): the live call is redirected
  to the new TwiML, or hung up; 404 (20404) for an unknown call, 400 (21220) for one that ended.

HTTP basic auth (AccountSid, auth token); errors are Twilio's JSON
`{"code": ..., "message": ..., "more_info": ..., "status": ...}`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web

from ccsandbox.caller import Caller, CallNotLive
from ccsandbox.faults import Fault
from ccsandbox.state import SandboxState, faulted, new_id

API = "/2010-04-01/Accounts/{account}"
#: Typical error codes when a fault names none: Twilio's "internal error" and "invalid parameter".
DEFAULT_CODES = {429: 20429, 500: 20500, 503: 20503}


def twilio_error(status: int, code: int, message: str, retry_after: str = "") -> web.Response:
    response = web.json_response(
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
        status=status,
    )
    if retry_after:
        response.headers["Retry-After"] = retry_after
    return response


def _basic(request: web.Request) -> tuple[str, str]:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Basic "):
        return "", ""
    try:
        user, _, password = base64.b64decode(header[6:], validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return "", ""
    return user, password


def _fault_answer(fault: Fault) -> web.Response:
    code = fault.code or DEFAULT_CODES.get(fault.status, 21211 if fault.status < 500 else 20500)
    return twilio_error(fault.status, code, fault.message, fault.retry_after)


class TwilioApi:
    def __init__(self, state: SandboxState, caller: Caller) -> None:
        self._state = state
        self._caller = caller

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post(f"{API}/Messages.json", self._guarded("sms", self._message))
        app.router.add_post(f"{API}/Calls.json", self._guarded("call", self._place_call))
        app.router.add_post(f"{API}/Calls/{{call}}.json", self._guarded("call_update", self._update_call))

    def _guarded(
        self, route: str, handle: Callable[[web.Request, str, str, dict[str, str]], Any]
    ) -> Callable[[web.Request], Any]:
        async def guarded(request: web.Request) -> web.StreamResponse:
            account = request.match_info["account"]
            form = {key: str(value) for key, value in (await request.post()).items()}
            user, password = _basic(request)
            live = request.match_info.get("call", "")
            fields = {k: v for k, v in form.items() if k != "Twiml" or route == "call_update"}
            if not self._state.credentials.twilio_ok(account, user, password):
                answer = twilio_error(401, 20003, "Authenticate")
                await self._record(
                    route, account, form, fields, answer.status, "Authenticate (20003)", sid=live
                )
                return answer
            fault = self._state.faults.next(route)
            if await faulted(fault, request):
                await self._record(route, account, form, fields, 0, "connection dropped", sid=live)
                return web.Response()
            if fault is not None and fault.status:
                answer = _fault_answer(fault)
                await self._record(
                    route, account, form, fields, fault.status, f"{fault.message} ({fault.status})", sid=live
                )
                return answer
            response: web.Response = await handle(request, account, password, form)
            return response

        return guarded

    async def _record(
        self,
        route: str,
        account: str,
        form: dict[str, str],
        fields: dict[str, str],
        status: int,
        error: str = "",
        sid: str = "",
    ) -> None:
        text = form.get("Body", "") if route == "sms" else form.get("Twiml", form.get("Url", ""))
        await self._state.outbox.add(
            provider="twilio",
            kind=route,
            sid=sid,
            account=account,
            to=form.get("To", ""),
            sender=form.get("From", ""),
            text=text,
            status=status,
            error=error,
            fields=fields,
        )

    async def _message(
        self, request: web.Request, account: str, _token: str, form: dict[str, str]
    ) -> web.Response:
        problem = _missing(
            form,
            ("To", 21604, "A 'To' phone number is required."),
            ("From", 21603, "A 'From' phone number is required."),
        )
        if problem is None and not form.get("Body") and not form.get("MediaUrl"):
            problem = twilio_error(400, 21602, "Message body is required.")
        if problem is not None:
            await self._record("sms", account, form, form, problem.status, _message_of(problem))
            return problem
        sid = new_id("SM")
        await self._record("sms", account, form, form, 201, sid=sid)
        return web.json_response(
            {
                "sid": sid,
                "account_sid": account,
                "to": form["To"],
                "from": form["From"],
                "body": form.get("Body", ""),
                "status": "queued",
                "direction": "outbound-api",
                "num_segments": "1",
                "api_version": "2010-04-01",
                "uri": f"/2010-04-01/Accounts/{account}/Messages/{sid}.json",
            },
            status=201,
        )

    async def _place_call(
        self, request: web.Request, account: str, token: str, form: dict[str, str]
    ) -> web.Response:
        problem = _missing(
            form,
            ("To", 21201, "No 'To' number is specified"),
            ("From", 21213, "No 'From' number is specified"),
        )
        if problem is None and not form.get("Url") and not form.get("Twiml"):
            problem = twilio_error(400, 21205, "Url parameter is required.")
        if problem is not None:
            await self._record("call", account, form, form, problem.status, _message_of(problem))
            return problem
        call = self._caller.place(
            account_sid=account,
            auth_token=token,
            caller=form["To"],
            number=form["From"],
            url=form.get("Url", ""),
            twiml=form.get("Twiml", ""),
            status_callback=form.get("StatusCallback", ""),
        )
        await self._record("call", account, form, form, 201, sid=call.sid)
        return web.json_response(call.resource(), status=201)

    async def _update_call(
        self, request: web.Request, account: str, _token: str, form: dict[str, str]
    ) -> web.Response:
        call_sid = request.match_info["call"]
        known = self._caller.get(call_sid)
        if known is None or known.account_sid != account:
            answer = twilio_error(
                404,
                20404,
                f"The requested resource /2010-04-01/Accounts/{account}/Calls/{call_sid}.json was not found",
            )
            await self._record("call_update", account, form, form, 404, "not found (20404)", sid=call_sid)
            return answer
        if not (form.get("Twiml") or form.get("Url") or form.get("Status")):
            answer = twilio_error(400, 21205, "Url, Twiml or Status is required.")
            await self._record(
                "call_update", account, form, form, 400, "nothing to change (21205)", sid=call_sid
            )
            return answer
        try:
            if form.get("Status") in ("completed", "canceled"):
                await self._caller.hang_up(call_sid, by="api")
            else:
                await self._caller.redirect(call_sid, twiml=form.get("Twiml", ""), url=form.get("Url", ""))
        except CallNotLive:
            answer = twilio_error(400, 21220, "Call is not in-progress. Cannot redirect.")
            await self._record(
                "call_update", account, form, form, 400, "call not in progress (21220)", sid=call_sid
            )
            return answer
        await self._record(
            "call_update",
            account,
            {**form, "To": known.caller, "From": known.number},
            form,
            200,
            sid=call_sid,
        )
        return web.json_response(known.resource(), status=200)


def _missing(form: dict[str, str], *required: tuple[str, int, str]) -> web.Response | None:
    for name, code, message in required:
        if not form.get(name):
            return twilio_error(400, code, message)
    return None


def _message_of(response: web.Response) -> str:
    body = orjson.loads(response.body) if isinstance(response.body, bytes) else {}
    return f"{body.get('message', '')} ({body.get('code', '')})"
