"""The providers the gateway sends to, for integration tests: the provider sandbox, in-process.

`ProviderServer` runs `ccsandbox.Sandbox` (the same code `make run` starts as its own process)
with the test's credentials checked, and shows its records the way these tests read them:
`requests(route)` ("messages", "calls", "call_update", "whatsapp", "callback"), `seen`, and
`script(route, (status, headers), ...)` to make a route fail first. `SmtpSink` is the sandbox's
SMTP relay and the mails it kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from email import message_from_string, policy
from email.message import EmailMessage
from typing import Any

from ccsandbox import Sandbox, SandboxSettings
from ccsandbox.faults import Fault
from ccsandbox.records import Sent

#: These tests' route names -> the sandbox's record kinds.
ROUTES = {
    "messages": "sms",
    "calls": "call",
    "call_update": "call_update",
    "whatsapp": "whatsapp",
    "callback": "generic",
}


@dataclass
class Seen:
    route: str
    headers: dict[str, str]
    form: dict[str, str]
    json: Any
    authorized: bool
    status: int
    sid: str


def _seen(record: Sent) -> Seen:
    route = next((name for name, kind in ROUTES.items() if kind == record.kind), record.kind)
    fields = dict(record.fields)
    is_json = record.kind in ("whatsapp", "generic")
    return Seen(
        route=route,
        headers=dict(record.meta),
        form={} if is_json else {k: str(v) for k, v in fields.items()},
        json=fields if is_json else None,
        authorized=record.status != 401,
        status=record.status,
        sid=record.sid,
    )


class ProviderServer:
    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        graph_token: str,
        signing_secret: str,
        *,
        answer_placed_calls: bool = False,
    ) -> None:
        self.sandbox = Sandbox(
            SandboxSettings(
                smtp_port=-1,
                pause_scale=0.05,
                twilio_accounts={account_sid: auth_token},
                graph_tokens=frozenset({graph_token}),
                partner_secrets=frozenset({signing_secret}),
                answer_placed_calls=answer_placed_calls,
            )
        )
        self.base_url = ""

    @property
    def callback_url(self) -> str:
        """Where a generic endpoint's `callbackUrl` points."""
        return f"{self.base_url}/partner/test/messages"

    @property
    def seen(self) -> list[Seen]:
        return [_seen(record) for record in self.sandbox.state.outbox.since(0)]

    def requests(self, route: str) -> list[Seen]:
        return [s for s in self.seen if s.route == route]

    def script(self, route: str, *answers: tuple[int, dict[str, str]]) -> None:
        """Answer the next requests on `route` with these (status, headers) first."""
        self.sandbox.state.faults.script(
            ROUTES[route],
            *(
                Fault(status=status, retry_after=headers.get("Retry-After", ""))
                for status, headers in answers
            ),
        )

    async def start(self) -> None:
        await self.sandbox.start()
        self.base_url = self.sandbox.base_url

    async def stop(self) -> None:
        await self.sandbox.stop()


class SmtpSink:
    """The sandbox's SMTP relay (on loopback) and the mails it kept: the gateway's outbound relay."""

    def __init__(self) -> None:
        self.sandbox = Sandbox(SandboxSettings(http_port=0, smtp_port=0))
        self.port = 0

    @property
    def mails(self) -> list[tuple[list[str], EmailMessage]]:
        kept = []
        for record in self.sandbox.state.outbox.since(0):
            if record.kind == "email" and record.accepted:
                mail = message_from_string(str(record.fields["raw"]), policy=policy.default)
                assert isinstance(mail, EmailMessage)
                kept.append((list(record.fields["rcpt_tos"]), mail))
        return kept

    async def start(self) -> None:
        await self.sandbox.start()
        self.port = self.sandbox.smtp_port

    async def stop(self) -> None:
        await self.sandbox.stop()
