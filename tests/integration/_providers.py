"""Real local servers speaking the providers' outbound formats, for the gateway's adapters.

`ProviderServer` is an aiohttp server on loopback that answers Twilio's Messages.json and
Calls.json, the WhatsApp Graph API's /messages and a generic callback URL the way those
providers do, checks their authentication (basic auth, bearer token, HMAC signature) and records
every request. `script` makes a route answer a sequence of statuses first (a provider that is
down, then up). `SmtpSink` is an aiosmtpd server that keeps every mail it receives.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from ccmesh.natsserver import free_port


@dataclass
class Seen:
    route: str
    headers: dict[str, str]
    form: dict[str, str]
    json: Any
    raw: bytes
    authorized: bool
    status: int


@dataclass
class ProviderServer:
    account_sid: str
    auth_token: str
    graph_token: str
    signing_secret: str
    seen: list[Seen] = field(default_factory=list)
    _scripts: dict[str, list[tuple[int, dict[str, str]]]] = field(default_factory=dict)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _runner: web.AppRunner | None = None
    base_url: str = ""

    def script(self, route: str, *answers: tuple[int, dict[str, str]]) -> None:
        """Answer the next requests on `route` ("messages", "calls", "whatsapp", "callback") with these
        (status, headers) first; afterwards the route succeeds."""
        self._scripts.setdefault(route, []).extend(answers)

    def requests(self, route: str) -> list[Seen]:
        return [s for s in self.seen if s.route == route]

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", self._twilio("messages", "SM"))
        app.router.add_post("/2010-04-01/Accounts/{sid}/Calls.json", self._twilio("calls", "CA"))
        app.router.add_post("/v21.0/{phone_number_id}/messages", self._whatsapp)
        app.router.add_post("/callback", self._callback)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def _scripted(self, route: str) -> tuple[int, dict[str, str]] | None:
        queue = self._scripts.get(route)
        return queue.pop(0) if queue else None

    def _twilio(self, route: str, prefix: str) -> Any:
        async def handle(request: web.Request) -> web.Response:
            raw = await request.read()
            form = {k: str(v) for k, v in (await request.post()).items()}
            expected = "Basic " + base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
            authorized = request.headers.get("Authorization") == expected
            authorized = authorized and request.match_info["sid"] == self.account_sid
            return self._answer(
                route,
                request,
                raw,
                form,
                None,
                authorized,
                ok=lambda: web.json_response(
                    {"sid": f"{prefix}{next(self._ids):032d}", "status": "queued"}, status=201
                ),
                unauthorized=lambda: web.json_response(
                    {"code": 20003, "message": "Authenticate", "status": 401}, status=401
                ),
                error=lambda status: web.json_response(
                    {
                        "code": 21211 if status == 400 else 20500,
                        "message": "scripted failure",
                        "status": status,
                    },
                    status=status,
                ),
            )

        return handle

    async def _whatsapp(self, request: web.Request) -> web.Response:
        raw = await request.read()
        body = await request.json()
        authorized = request.headers.get("Authorization") == f"Bearer {self.graph_token}"
        return self._answer(
            "whatsapp",
            request,
            raw,
            {},
            body,
            authorized,
            ok=lambda: web.json_response(
                {
                    "messaging_product": "whatsapp",
                    "contacts": [{"input": body.get("to"), "wa_id": body.get("to")}],
                    "messages": [{"id": f"wamid.OUT{next(self._ids)}"}],
                }
            ),
            unauthorized=lambda: web.json_response(
                {"error": {"message": "Invalid OAuth access token", "type": "OAuthException", "code": 190}},
                status=401,
            ),
            error=lambda status: web.json_response(
                {"error": {"message": "scripted failure", "type": "OAuthException", "code": 131000}},
                status=status,
            ),
        )

    async def _callback(self, request: web.Request) -> web.Response:
        raw = await request.read()
        timestamp = request.headers.get("X-CC-Timestamp", "")
        expected = (
            "sha256="
            + hmac.new(
                self.signing_secret.encode(), timestamp.encode() + b"." + raw, hashlib.sha256
            ).hexdigest()
        )
        authorized = hmac.compare_digest(expected, request.headers.get("X-CC-Signature", ""))
        return self._answer(
            "callback",
            request,
            raw,
            {},
            await request.json(),
            authorized,
            ok=lambda: web.json_response({"id": f"partner-{next(self._ids)}"}, status=202),
            unauthorized=lambda: web.json_response({"error": "bad signature"}, status=401),
            error=lambda status: web.json_response({"error": "scripted failure"}, status=status),
        )

    def _answer(
        self,
        route: str,
        request: web.Request,
        raw: bytes,
        form: dict[str, str],
        body: Any,
        authorized: bool,
        *,
        ok: Any,
        unauthorized: Any,
        error: Any,
    ) -> web.Response:
        scripted = self._scripted(route) if authorized else None
        if not authorized:
            response = unauthorized()
        elif scripted is not None:
            response = error(scripted[0])
            for name, value in scripted[1].items():
                response.headers[name] = value
        else:
            response = ok()
        self.seen.append(Seen(route, dict(request.headers), form, body, raw, authorized, response.status))
        return response  # type: ignore[no-any-return]


class _Keep:
    def __init__(self, sink: SmtpSink) -> None:
        self._sink = sink

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        mail = message_from_bytes(bytes(envelope.content or b""), policy=policy.default)
        assert isinstance(mail, EmailMessage)
        self._sink.mails.append((list(envelope.rcpt_tos), mail))
        return "250 OK"


@dataclass
class SmtpSink:
    """A real SMTP server (aiosmtpd) on loopback that keeps what it receives: the outbound relay."""

    mails: list[tuple[list[str], EmailMessage]] = field(default_factory=list)
    port: int = 0
    _controller: Controller | None = None

    def start(self) -> None:
        # aiosmtpd's Controller connects to its own port to know it is up: it needs a real one.
        self.port = free_port()
        self._controller = Controller(_Keep(self), hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
