"""A reply on its way to a customer, and how a provider's answer decides what happens next.

Transient failures (the provider's 5xx, 429, a connection that failed) are retried with back-off
until the attempts run out; permanent ones (other 4xx: a bad number, a revoked token) are
reported at once. Either way the outcome is published, never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Longest Retry-After honoured, in seconds: a provider asking for more gets this, then a retry.
MAX_RETRY_AFTER_SECONDS = 300.0


@dataclass(frozen=True)
class OutboundMessage:
    #: The platform's message id (MessageSent.message_id); the provider call's idempotency key.
    message_id: str
    tenant_id: str
    contact_id: str
    #: Endpoint channel name: sms, whatsapp, email, webchat, generic, voice.
    channel: str
    text: str
    #: The customer's address on the channel: phone, wa_id, e-mail address, visitor id.
    to: str
    sender: str = ""
    #: E-mail: the thread's subject and message ids (oldest first), for In-Reply-To and References.
    subject: str = ""
    thread_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class CallRequest:
    """A call back: dial `to` from the endpoint's number; the answered call fetches `answer_url`."""

    request_id: str
    tenant_id: str
    contact_id: str
    to: str
    answer_url: str
    #: Twilio's StatusCallback for the call: its end is recorded (voice bridge); "" for none.
    status_url: str = ""


@dataclass(frozen=True)
class Receipt:
    #: The provider's id for what it accepted (message SID, wamid, Message-ID...).
    provider_message_id: str


class DeliveryFailed(Exception):
    """The provider did not take the message; `transient` says whether a retry may succeed."""

    def __init__(self, reason: str, *, transient: bool, retry_after: float = 0.0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.transient = transient
        self.retry_after = min(max(retry_after, 0.0), MAX_RETRY_AFTER_SECONDS)


def failure_of_status(status: int, detail: str, retry_after: str | None = None) -> DeliveryFailed:
    """A provider's HTTP error status as a failure: 429 and 5xx are worth retrying, other 4xx not."""
    reason = f"HTTP {status}: {detail}"[:500]
    if status == 429 or status >= 500:
        return DeliveryFailed(reason, transient=True, retry_after=parse_retry_after(retry_after))
    return DeliveryFailed(reason, transient=False)


def parse_retry_after(value: str | None) -> float:
    """Retry-After in seconds (the HTTP-date form is rare from these APIs: treated as absent)."""
    if not value:
        return 0.0
    try:
        return float(value.strip())
    except ValueError:
        return 0.0


def retry_delay(attempt: int, base_seconds: float, retry_after: float) -> float:
    """Wait before attempt `attempt + 1`: doubling from `base_seconds`, at least what the provider asked."""
    return max(base_seconds * float(2 ** max(attempt - 1, 0)), retry_after)


def phone_of_whatsapp_id(wa_id: str) -> str:
    """WhatsApp ids are the number's digits without `+`; a call needs E.164."""
    digits = "".join(ch for ch in wa_id if ch.isdigit())
    return f"+{digits}" if digits else ""
