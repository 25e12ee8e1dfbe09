"""A generic partner's callback URL: `POST /partner/<name>/messages`, as the platform's generic
provider sends replies (JSON, `X-CC-Timestamp`, `X-CC-Signature: sha256=<HMAC of
"<timestamp>.<body>">`, `Idempotency-Key`). Answers 202 `{"id": "partner-<n>"}`.
"""

from __future__ import annotations

import itertools
from typing import Any

import orjson
from aiohttp import web

from ccsandbox.state import SandboxState, faulted


class PartnerApi:
    def __init__(self, state: SandboxState) -> None:
        self._state = state
        self._ids = itertools.count(1)

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/partner/{name}/messages", self._receive)

    async def _receive(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body: Any = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = None
        fields = body if isinstance(body, dict) else {}
        meta = {
            name: request.headers[name]
            for name in ("Idempotency-Key", "X-CC-Timestamp", "X-CC-Signature")
            if name in request.headers
        }
        signed = self._state.credentials.partner_ok(
            meta.get("X-CC-Timestamp", ""), raw, meta.get("X-CC-Signature", "")
        )
        if not signed:
            await self._record(request, fields, meta, 401, "bad signature")
            return web.json_response({"error": "bad signature"}, status=401)
        fault = self._state.faults.next("generic")
        if await faulted(fault, request):
            await self._record(request, fields, meta, 0, "connection dropped")
            return web.Response()
        if fault is not None and fault.status:
            await self._record(request, fields, meta, fault.status, f"{fault.message} ({fault.status})")
            answer = web.json_response({"error": fault.message}, status=fault.status)
            if fault.retry_after:
                answer.headers["Retry-After"] = fault.retry_after
            return answer
        if body is None or not isinstance(body, dict):
            await self._record(request, fields, meta, 400, "body: a JSON object is needed")
            return web.json_response({"error": "body: a JSON object is needed"}, status=400)
        sid = f"partner-{next(self._ids)}"
        await self._record(request, fields, meta, 202, sid=sid)
        return web.json_response({"id": sid}, status=202)

    async def _record(
        self,
        request: web.Request,
        fields: dict[str, Any],
        meta: dict[str, str],
        status: int,
        error: str = "",
        sid: str = "",
    ) -> None:
        await self._state.outbox.add(
            provider="generic",
            kind="generic",
            sid=sid,
            account=request.match_info["name"],
            to=str(fields.get("to", "")),
            sender=str(fields.get("sender", "")),
            text=str(fields.get("text", "")),
            status=status,
            error=error,
            fields=fields,
            meta=meta,
        )
