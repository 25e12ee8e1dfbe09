"""The sandbox's own API (JSON under `/sandbox/api/`) and the page listing what was sent (`/`).

- `GET /sandbox/api/messages?since=<seq>&wait=<seconds>`: records after `since` (waiting up to
  `wait` seconds for one), `{"messages": [...], "last": <seq>}`; `DELETE` forgets them;
- `POST /sandbox/api/faults` `{"route": "sms", "faults": [{"status": 503}, {"delay_seconds": 20}]}`:
  the next requests on that route fail so; `DELETE` forgets the pending ones;
- `POST /sandbox/api/calls` `{"url", "account_sid", "auth_token", "from", "to", "status_callback",
  "answers"}`: a customer calls (see `ccsandbox.caller`); `GET /sandbox/api/calls[/<sid>]`;
  `POST /sandbox/api/calls/<sid>/answers` `{"answers": [...]}`; `POST .../<sid>/hangup`;
- `POST /sandbox/api/unanswered` `{"to": "+44...", "statuses": ["no-answer", "busy"]}`: the next
  calls the platform places to that number end so, one each, without being answered.
"""

from __future__ import annotations

import html
import time
from typing import Any

import orjson
from aiohttp import web

from ccsandbox.caller import Caller, CallNotLive
from ccsandbox.faults import Fault, FaultError
from ccsandbox.state import SandboxState

MAX_WAIT_SECONDS = 30.0
PAGE_ROWS = 200


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": {"message": message}}, status=status)


def _json(value: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(value), status=status, content_type="application/json")


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        value = orjson.loads(await request.read() or b"{}")
    except orjson.JSONDecodeError as error:
        raise web.HTTPBadRequest(
            text=orjson.dumps({"error": {"message": f"body: not JSON ({error})"}}).decode(),
            content_type="application/json",
        ) from None
    if not isinstance(value, dict):
        raise web.HTTPBadRequest(
            text='{"error": {"message": "body: a JSON object is needed"}}', content_type="application/json"
        )
    return value


def _text(body: dict[str, Any], name: str, *, required: bool = True) -> str:
    value = body.get(name, "")
    if not isinstance(value, str) or (required and not value):
        raise web.HTTPBadRequest(
            text=orjson.dumps({"error": {"message": f"{name}: a non-empty string is needed"}}).decode(),
            content_type="application/json",
        )
    return value


def _answers(body: dict[str, Any]) -> tuple[str, ...]:
    answers = body.get("answers", [])
    if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
        raise web.HTTPBadRequest(
            text='{"error": {"message": "answers: a list of strings is needed"}}',
            content_type="application/json",
        )
    return tuple(answers)


class ControlApi:
    def __init__(self, state: SandboxState, caller: Caller) -> None:
        self._state = state
        self._caller = caller

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/", self._page)
        app.router.add_get("/healthz", self._health)
        app.router.add_get("/sandbox/api/messages", self._messages)
        app.router.add_delete("/sandbox/api/messages", self._forget)
        app.router.add_post("/sandbox/api/faults", self._script)
        app.router.add_delete("/sandbox/api/faults", self._clear_faults)
        app.router.add_get("/sandbox/api/calls", self._calls)
        app.router.add_post("/sandbox/api/calls", self._dial_in)
        app.router.add_get("/sandbox/api/calls/{sid}", self._call)
        app.router.add_post("/sandbox/api/calls/{sid}/answers", self._answer)
        app.router.add_post("/sandbox/api/calls/{sid}/hangup", self._hang_up)
        app.router.add_post("/sandbox/api/unanswered", self._unanswered)

    async def _health(self, _request: web.Request) -> web.Response:
        return _json({"status": "ok"})

    async def _messages(self, request: web.Request) -> web.Response:
        try:
            since = int(request.query.get("since", "0"))
            wait = min(MAX_WAIT_SECONDS, max(0.0, float(request.query.get("wait", "0"))))
        except ValueError:
            return _error(400, "since and wait: numbers are needed")
        found = await self._state.outbox.wait_after(since, wait) if wait else self._state.outbox.since(since)
        last = found[-1].seq if found else since
        return _json({"messages": [r.to_dict() for r in found], "last": last})

    async def _forget(self, _request: web.Request) -> web.Response:
        self._state.outbox.clear()
        return _json({"messages": []})

    async def _script(self, request: web.Request) -> web.Response:
        body = await _body(request)
        route = _text(body, "route")
        raw = body.get(
            "faults", [body] if "status" in body or "delay_seconds" in body or "drop" in body else []
        )
        if not isinstance(raw, list) or not raw or not all(isinstance(f, dict) for f in raw):
            return _error(400, "faults: a non-empty list of fault objects is needed")
        try:
            faults = [Fault.from_dict(f) for f in raw]
            self._state.faults.script(route, *faults)
        except FaultError as error:
            return _error(400, str(error))
        return _json({"pending": self._state.faults.pending()}, status=201)

    async def _clear_faults(self, _request: web.Request) -> web.Response:
        self._state.faults.clear()
        return _json({"pending": {}})

    async def _calls(self, _request: web.Request) -> web.Response:
        return _json({"calls": [c.to_dict() for c in self._caller.calls()]})

    async def _call(self, request: web.Request) -> web.Response:
        call = self._caller.get(request.match_info["sid"])
        if call is None:
            return _error(404, f"call {request.match_info['sid'][:40]!r}: not known to the sandbox")
        return _json(call.to_dict())

    async def _dial_in(self, request: web.Request) -> web.Response:
        body = await _body(request)
        url = _text(body, "url")
        if not url.startswith(("http://", "https://")):
            return _error(400, "url: the voice webhook's http(s) URL is needed")
        call = self._caller.dial_in(
            url=url,
            account_sid=_text(body, "account_sid"),
            auth_token=_text(body, "auth_token"),
            caller=_text(body, "from"),
            number=_text(body, "to"),
            status_callback=_text(body, "status_callback", required=False),
            answers=_answers(body),
        )
        return _json(call.to_dict(), status=201)

    async def _answer(self, request: web.Request) -> web.Response:
        answers = _answers(await _body(request))
        try:
            call = self._caller.answer(request.match_info["sid"], *answers)
        except CallNotLive:
            return _error(409, "call: not live (ended or unknown)")
        return _json(call.to_dict())

    async def _hang_up(self, request: web.Request) -> web.Response:
        try:
            call = await self._caller.hang_up(request.match_info["sid"])
        except CallNotLive:
            return _error(409, "call: not live (ended or unknown)")
        return _json(call.to_dict())

    async def _unanswered(self, request: web.Request) -> web.Response:
        body = await _body(request)
        number = _text(body, "to")
        statuses = body.get("statuses")
        if not isinstance(statuses, list) or not statuses or not all(isinstance(x, str) for x in statuses):
            return _error(400, "statuses: a non-empty list of call statuses is needed")
        try:
            self._caller.leave_unanswered(number, *statuses)
        except ValueError as error:
            return _error(400, str(error))
        return _json({"to": number, "statuses": statuses}, status=201)

    async def _page(self, _request: web.Request) -> web.Response:
        rows = []
        for record in reversed(self._state.outbox.since(0)[-PAGE_ROWS:]):
            outcome = "delivered" if record.accepted else f"refused: {record.error}"
            rows.append(
                "<tr>"
                + "".join(
                    f"<td>{html.escape(str(cell))}</td>"
                    for cell in (
                        time.strftime("%H:%M:%S", time.localtime(record.at)),
                        record.kind,
                        record.to,
                        record.sender,
                        record.text[:300],
                        outcome,
                    )
                )
                + "</tr>"
            )
        calls = []
        for call in reversed(self._caller.calls()[-50:]):
            said = " / ".join(h["text"] for h in call.heard if h["verb"] in ("Say", "Play"))[-300:]
            calls.append(
                "<tr>"
                + "".join(
                    f"<td>{html.escape(str(cell))}</td>"
                    for cell in (
                        call.sid,
                        call.direction,
                        call.caller,
                        call.status,
                        call.queue or call.connected_to,
                        said,
                    )
                )
                + "</tr>"
            )
        page = _PAGE.format(
            rows="".join(rows) or '<tr><td colspan="6">nothing sent yet</td></tr>',
            calls="".join(calls) or '<tr><td colspan="6">no calls yet</td></tr>',
        )
        return web.Response(text=page, content_type="text/html")


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="3">
<title>Provider sandbox</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; }}
table {{ border-collapse: collapse; width: 100%; margin-bottom: 2rem; }}
td, th {{ border-bottom: 1px solid #ddd; padding: .3rem .5rem; text-align: left; vertical-align: top; }}
th {{ background: #f4f4f4; }}
</style></head>
<body>
<h1>Provider sandbox</h1>
<p>What the platform sent to Twilio, WhatsApp and the SMTP relay (newest first). JSON:
<code>/sandbox/api/messages</code>.</p>
<table><thead><tr><th>time</th><th>kind</th><th>to</th><th>from</th><th>text</th><th>outcome</th></tr></thead>
<tbody>{rows}</tbody></table>
<h2>Calls</h2>
<table><thead><tr><th>CallSid</th><th>direction</th><th>customer</th><th>status</th>
<th>queue / connected to</th><th>heard</th></tr></thead><tbody>{calls}</tbody></table>
</body></html>
"""
