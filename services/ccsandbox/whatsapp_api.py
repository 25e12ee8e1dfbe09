"""The WhatsApp Cloud API's send endpoint: `POST /v<version>/<phone-number-id>/messages`.

Bearer token auth; the body `{"messaging_product": "whatsapp", "to": ..., "type": "text",
"text": {"body": ...}}` (other types are recorded with their JSON); the answer names the message
`{"messages": [{"id": "wamid..."}]}`, errors are Graph's `{"error": {"message", "type", "code"}}`.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from aiohttp import web

from ccsandbox.faults import Fault
from ccsandbox.state import SandboxState, faulted, new_id

_VERSION = re.compile(r"^v\d{1,3}(\.\d{1,3})?$")


def graph_error(status: int, code: int, message: str, retry_after: str = "") -> web.Response:
    error_type = "OAuthException" if status in (401, 403) else "GraphMethodException"
    response = web.json_response(
        {"error": {"message": message, "type": error_type, "code": code, "fbtrace_id": new_id("A")[:24]}},
        status=status,
    )
    if retry_after:
        response.headers["Retry-After"] = retry_after
    return response


def _fault_answer(fault: Fault) -> web.Response:
    return graph_error(
        fault.status, fault.code or (131000 if fault.status >= 500 else 100), fault.message, fault.retry_after
    )


class WhatsAppApi:
    def __init__(self, state: SandboxState) -> None:
        self._state = state

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/{version}/{phone_number_id}/messages", self._send)

    async def _send(self, request: web.Request) -> web.StreamResponse:
        line = request.match_info["phone_number_id"]
        if not _VERSION.match(request.match_info["version"]):
            return graph_error(400, 2500, f"Unknown path components: /{request.match_info['version']}")
        raw = await request.read()
        try:
            body: Any = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = None
        fields = body if isinstance(body, dict) else {}
        token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not self._state.credentials.graph_ok(token):
            await self._record(line, fields, 401, "Invalid OAuth access token (190)")
            return graph_error(401, 190, "Invalid OAuth access token - Cannot parse access token")
        fault = self._state.faults.next("whatsapp")
        if await faulted(fault, request):
            await self._record(line, fields, 0, "connection dropped")
            return web.Response()
        if fault is not None and fault.status:
            await self._record(line, fields, fault.status, f"{fault.message} ({fault.status})")
            return _fault_answer(fault)
        problem = _problem(body)
        if problem:
            await self._record(line, fields, 400, problem)
            return graph_error(400, 100, f"(#100) {problem}")
        wamid = "wamid." + new_id("HBgM")
        await self._record(line, fields, 200, sid=wamid)
        return web.json_response(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": fields["to"], "wa_id": fields["to"]}],
                "messages": [{"id": wamid}],
            }
        )

    async def _record(
        self, line: str, fields: dict[str, Any], status: int, error: str = "", sid: str = ""
    ) -> None:
        text = fields.get("text")
        await self._state.outbox.add(
            provider="whatsapp_cloud",
            kind="whatsapp",
            sid=sid,
            account=line,
            to=str(fields.get("to", "")),
            sender=line,
            text=str(text.get("body", "")) if isinstance(text, dict) else "",
            status=status,
            error=error,
            fields=fields,
        )


def _problem(body: Any) -> str:
    if not isinstance(body, dict):
        return "the request body must be a JSON object"
    if body.get("messaging_product") != "whatsapp":
        return "Param messaging_product must be 'whatsapp'"
    if not body.get("to"):
        return "The parameter to is required."
    if body.get("type", "text") == "text":
        text = body.get("text")
        if not isinstance(text, dict) or not str(text.get("body", "")).strip():
            return "Param text['body'] is required"
    return ""
