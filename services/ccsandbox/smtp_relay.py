"""The outbound SMTP relay: every mail the platform sends is kept (aiosmtpd, on the sandbox's loop).

A scripted `email` fault answers the DATA command with its code (4xx: try later, 5xx: final), so
the gateway's retry rules for mail can be tried without a real relay.
"""

from __future__ import annotations

import asyncio
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.smtp import SMTP, Envelope, Session

from ccsandbox.state import SandboxState


class _Keep:
    def __init__(self, state: SandboxState) -> None:
        self._state = state

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.content or b""
        content = raw.encode() if isinstance(raw, str) else bytes(raw)
        mail = message_from_bytes(content, policy=policy.default)
        assert isinstance(mail, EmailMessage)
        body = mail.get_body(preferencelist=("plain", "html"))
        text = body.get_content() if body is not None else ""
        fields: dict[str, object] = {
            "subject": str(mail.get("Subject", "")),
            "message_id": str(mail.get("Message-ID", "")),
            "in_reply_to": str(mail.get("In-Reply-To", "")),
            "references": str(mail.get("References", "")),
            "rcpt_tos": list(envelope.rcpt_tos),
            "raw": content.decode(errors="replace"),
        }
        fault = self._state.faults.next("email")
        if fault is not None and fault.delay_seconds:
            await asyncio.sleep(fault.delay_seconds)
        if fault is not None and fault.status:
            code = fault.status if 400 <= fault.status <= 599 else 451
            reply = f"{code} {fault.message}"
            await self._record(envelope, mail, text, fields, code, reply)
            return reply
        await self._record(envelope, mail, text, fields, 250)
        return "250 OK: queued by the sandbox"

    async def _record(
        self,
        envelope: Envelope,
        mail: EmailMessage,
        text: str,
        fields: dict[str, object],
        code: int,
        error: str = "",
    ) -> None:
        await self._state.outbox.add(
            provider="smtp",
            kind="email",
            sid="" if error else str(mail.get("Message-ID", "")),
            account=str(envelope.mail_from or ""),
            to=", ".join(envelope.rcpt_tos),
            sender=str(mail.get("From", "")),
            text=text.strip(),
            status=code,
            error=error,
            fields=fields,
        )


async def start_smtp(state: SandboxState, host: str, port: int) -> asyncio.Server:
    loop = asyncio.get_running_loop()
    handler = _Keep(state)
    return await loop.create_server(lambda: SMTP(handler, hostname="sandbox.local"), host, port)
