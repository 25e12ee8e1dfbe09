"""E-mail replies through the endpoint's SMTP relay, threaded into the customer's conversation.

The reply carries `In-Reply-To` (the last mail of the thread) and `References` (the thread's
ids), and a `Re:` subject, so the customer's mail client shows it in the same thread. Its
Message-ID derives from the platform's message id: a retry after a lost answer sends the same
id, which receiving servers and clients treat as the same mail. smtplib runs in a thread.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate

from ccmesh.configplane.models import ChannelEndpoint
from gateway.domain.outbound_message import DeliveryFailed, OutboundMessage, Receipt

CALL_TIMEOUT_SECONDS = 30.0


def reply_message_id(message_id: str, endpoint_address: str) -> str:
    domain = endpoint_address.rsplit("@", 1)[-1] or "gateway.invalid"
    return f"<{message_id}@{domain}>"


def compose(endpoint: ChannelEndpoint, message: OutboundMessage) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = endpoint.spec.address
    mail["To"] = message.to
    subject = message.subject or "Your message"
    mail["Subject"] = subject if subject.lower().startswith("re:") else f"Re: {subject}"
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = reply_message_id(message.message_id, endpoint.spec.address)
    if message.thread_ids:
        mail["In-Reply-To"] = message.thread_ids[-1]
        mail["References"] = " ".join(message.thread_ids)
    mail.set_content(message.text)
    return mail


class SmtpRelay:
    name = "smtp"

    async def send(self, endpoint: ChannelEndpoint, message: OutboundMessage) -> Receipt:
        if endpoint.spec.smtp is None:
            raise DeliveryFailed(
                f"endpoint {endpoint.metadata.name}: smtp relay is not configured", transient=False
            )
        mail = compose(endpoint, message)
        await asyncio.to_thread(self._deliver, endpoint, mail)
        return Receipt(str(mail["Message-ID"]))

    @staticmethod
    def _deliver(endpoint: ChannelEndpoint, mail: EmailMessage) -> None:
        relay = endpoint.spec.smtp
        assert relay is not None
        try:
            with smtplib.SMTP(relay.host, relay.port, timeout=CALL_TIMEOUT_SECONDS) as client:
                if relay.starttls:
                    client.starttls(context=ssl.create_default_context())
                if relay.username:
                    client.login(relay.username, relay.password)
                client.send_message(mail)
        except smtplib.SMTPRecipientsRefused as error:
            codes = sorted({code for code, _ in error.recipients.values()})
            raise DeliveryFailed(
                f"SMTP recipient refused ({codes})", transient=all(400 <= c < 500 for c in codes)
            ) from None
        except smtplib.SMTPResponseException as error:
            text = (
                error.smtp_error.decode(errors="replace")
                if isinstance(error.smtp_error, bytes)
                else str(error.smtp_error)
            )
            # 4xx is "try again later" in SMTP; 5xx is final.
            raise DeliveryFailed(
                f"SMTP {error.smtp_code}: {text[:200]}", transient=400 <= error.smtp_code < 500
            ) from None
        except (smtplib.SMTPException, OSError) as error:
            raise DeliveryFailed(f"SMTP relay unreachable: {type(error).__name__}", transient=True) from None
