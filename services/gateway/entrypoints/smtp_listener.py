"""The e-mail channel's inbound side: a real SMTP listener (aiosmtpd) in the gateway's event loop.

RCPT TO picks the channel endpoint by its address (an unknown or disabled one: 550 naming it).
DATA is parsed (domain/email_message), attachments go to the region's object store, and the
mail goes through the one inbound use case for each endpoint it was addressed to; its
Message-ID is the provider message id, so a sending server's retry creates nothing new.
Replies: 250 once accepted (stored and published); 451 when the platform could not take it now
(the sender retries); 550 for a mail that can never be accepted (the reason is in the reply);
552 from aiosmtpd for one larger than `CC_SMTP_MAX_MESSAGE_BYTES`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from ccmesh import telemetry
from ccmesh.channels import Channel
from ccmesh.configplane.models import ChannelEndpoint
from ccmesh.status import RpcError
from contactcenter.common.v1 import common_pb2
from gateway.adapters.attachment_store import AttachmentStore
from gateway.adapters.channel_directory import ChannelDirectory
from gateway.adapters.contact_store import StillProcessing
from gateway.domain.email_message import MalformedEmail, ParsedEmail, parse_email
from gateway.domain.inbound import InboundMessage, validate
from gateway.service_layer.accept_inbound import AcceptInbound

log = logging.getLogger(__name__)

MAX_PROVIDER_ID = 256


class InboundMail:
    """aiosmtpd handler: RCPT and DATA decisions."""

    def __init__(
        self, directory: ChannelDirectory, accept: AcceptInbound, attachments: AttachmentStore
    ) -> None:
        self._directory = directory
        self._accept = accept
        self._attachments = attachments

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if self._directory.by_address(Channel.EMAIL, address) is None:
            return f"550 5.1.1 <{address[:320]}>: unknown recipient, no e-mail endpoint has this address"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        # A mail's contact starts its trace here, as a webhook's does at its HTTP request.
        with telemetry.new_trace_span("SMTP DATA"):
            return await self._data(envelope)

    async def _data(self, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content
        data = raw if isinstance(raw, bytes) else str(raw or "").encode()
        try:
            mail = parse_email(data, envelope_sender=str(envelope.mail_from or ""))
        except MalformedEmail as error:
            return f"550 5.6.0 Malformed message: {error}"
        endpoints = [
            e for e in (self._directory.by_address(Channel.EMAIL, r) for r in envelope.rcpt_tos) if e
        ]
        if not endpoints:
            return "550 5.1.1 No recipient is an e-mail endpoint any more"
        # Two recipients of the same endpoint (aliases, case) take the mail once.
        for endpoint in {e.metadata.name: e for e in endpoints}.values():
            answer = await self._take(endpoint, mail)
            if answer is not None:
                return answer
        return "250 2.0.0 Message accepted"

    async def _take(self, endpoint: ChannelEndpoint, mail: ParsedEmail) -> str | None:
        """Accept the mail for one endpoint; an SMTP reply when it cannot be."""
        spec = endpoint.spec
        try:
            attachments = tuple(
                [
                    await self._attachments.keep(spec.tenant, a.filename, a.content_type, a.data, a.sha256)
                    for a in mail.attachments
                ]
            )
        except Exception:
            log.warning("e-mail for %s: attachment store unavailable", endpoint.metadata.name, exc_info=True)
            return "451 4.3.0 Attachments cannot be stored right now; try again later"
        provider_id = mail.message_id
        if len(provider_id) > MAX_PROVIDER_ID:
            provider_id = hashlib.sha256(provider_id.encode()).hexdigest()
        message = InboundMessage(
            tenant_id=spec.tenant,
            brand_id=spec.brand,
            channel=common_pb2.CHANNEL_KIND_EMAIL,
            from_kind=common_pb2.IDENTIFIER_KIND_EMAIL,
            from_value=mail.sender,
            entry_point=endpoint.metadata.name,
            text=mail.text or mail.subject,
            provider_message_id=provider_id,
            reply_address=mail.reply_to,
            subject=mail.subject,
            thread_id=mail.message_id,
            in_reply_to=mail.answers,
            attachments=attachments,
            language=spec.language,
            sender_name=mail.sender_name,
        )
        problems = validate(message)
        if problems:
            return f"550 5.6.0 {'; '.join(problems)}"
        try:
            await self._accept(message)
        except StillProcessing:
            return "451 4.3.0 The same message is being processed; try again later"
        except RpcError as error:
            log.warning("e-mail for %s not accepted now: %s", endpoint.metadata.name, error.code.name)
            return "451 4.3.0 The contact center cannot take this message now; try again later"
        return None


async def start_smtp(
    handler: InboundMail, host: str, port: int, *, max_message_bytes: int
) -> tuple[asyncio.Server, int]:
    """Serve SMTP on host:port in the running loop; returns the server and the port it got."""
    loop = asyncio.get_running_loop()

    def protocol() -> Any:
        return SMTP(
            handler,
            data_size_limit=max_message_bytes,
            enable_SMTPUTF8=True,
            hostname="contactcenter-gateway",
            ident="contactcenter gateway ESMTP",
        )

    server = await loop.create_server(protocol, host, port)
    bound = int(server.sockets[0].getsockname()[1])
    return server, bound
