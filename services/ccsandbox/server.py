"""One sandbox: the providers' HTTP APIs, the control API and page, the caller and the SMTP relay."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType

from aiohttp import web

from ccsandbox.caller import Caller
from ccsandbox.control_api import ControlApi
from ccsandbox.crm_api import CrmApi
from ccsandbox.partner_api import PartnerApi
from ccsandbox.smtp_relay import start_smtp
from ccsandbox.state import Credentials, SandboxState
from ccsandbox.twilio_api import TwilioApi
from ccsandbox.whatsapp_api import WhatsAppApi


@dataclass
class SandboxSettings:
    host: str = "127.0.0.1"
    #: 0: a free port.
    http_port: int = 0
    #: 0: a free port; -1: no SMTP relay.
    smtp_port: int = 0
    #: Real seconds per TwiML second when the caller pauses or waits for a Gather (tests: small).
    pause_scale: float = 1.0
    #: Twilio AccountSid -> auth token checked; empty: any credentials whose user is the account.
    twilio_accounts: Mapping[str, str] = field(default_factory=dict)
    #: WhatsApp access tokens checked; empty: any bearer token.
    graph_tokens: frozenset[str] = frozenset()
    #: Generic partner signing secrets checked; empty: any signature.
    partner_secrets: frozenset[str] = frozenset()
    #: Calls placed through the Calls API are answered by the caller (it fetches their Url);
    #: False for tests that play the answering customer themselves.
    answer_placed_calls: bool = True


class Sandbox:
    def __init__(self, settings: SandboxSettings | None = None) -> None:
        self.settings = settings or SandboxSettings()
        self.state = SandboxState(
            credentials=Credentials(
                twilio=dict(self.settings.twilio_accounts),
                graph_tokens=self.settings.graph_tokens,
                partner_secrets=self.settings.partner_secrets,
            )
        )
        self.caller = Caller(
            pause_scale=self.settings.pause_scale, answer_placed_calls=self.settings.answer_placed_calls
        )
        self._runner: web.AppRunner | None = None
        self._smtp: asyncio.Server | None = None
        self.http_port = 0
        self.smtp_port = 0

    @property
    def base_url(self) -> str:
        return f"http://{self.settings.host}:{self.http_port}"

    def app(self) -> web.Application:
        app = web.Application(client_max_size=4 * 1024 * 1024)
        ControlApi(self.state, self.caller).add_routes(app)
        TwilioApi(self.state, self.caller).add_routes(app)
        WhatsAppApi(self.state).add_routes(app)
        PartnerApi(self.state).add_routes(app)
        CrmApi(self.state).add_routes(app)
        return app

    async def start(self) -> None:
        await self.caller.start()
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.settings.host, self.settings.http_port)
        await site.start()
        self.http_port = int(self._runner.addresses[0][1])
        if self.settings.smtp_port >= 0:
            self._smtp = await start_smtp(self.state, self.settings.host, self.settings.smtp_port)
            self.smtp_port = int(self._smtp.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        await self.caller.stop()
        if self._smtp is not None:
            self._smtp.close()
            await self._smtp.wait_closed()
            self._smtp = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Sandbox:
        await self.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.stop()
