"""An inbound customer message, normalised from any channel, and what accepting it produced."""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass

import orjson

from gateway.domain.conversation import JourneyAction

#: Message ids derive from the provider's id, so a retried delivery maps to the same message
#: (and the same `Nats-Msg-Id`) even if the first attempt died half way.
_MESSAGE_NAMESPACE = uuid.UUID("6f1d3a52-52f4-4c55-9d0c-3f1f8a7c2b10")
MAX_TEXT_BYTES = 64 * 1024


@dataclass(frozen=True)
class Attachment:
    """A file that came with a message, by reference; the bytes are in the region's object store."""

    filename: str
    content_type: str
    size: int
    sha256: str
    bucket: str
    object: str


@dataclass(frozen=True)
class InboundMessage:
    tenant_id: str
    brand_id: str
    channel: int
    from_kind: int
    from_value: str
    #: The ChannelEndpoint's metadata.name for configured endpoints (decides journey or queue).
    entry_point: str
    text: str
    provider_message_id: str
    #: Where replies go when it is not `from_value` (e.g. a Reply-To address).
    reply_address: str = ""
    #: E-mail: subject, this mail's Message-ID, and the ids it answers, most recent first
    #: (In-Reply-To, then References backwards): the first known one names the thread's contact.
    subject: str = ""
    thread_id: str = ""
    in_reply_to: tuple[str, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    #: A contact this message belongs to, named by a URL the platform gave out itself (the call
    #: back's voice webhook `?contact=`): the call continues that contact.
    contact_hint: str = ""
    language: str = ""
    #: The name the customer goes by on the channel (WhatsApp profile, e-mail From name).
    sender_name: str = ""

    def message_id(self) -> str:
        return uuid.uuid5(
            _MESSAGE_NAMESPACE, f"{self.tenant_id}:{self.channel}:{self.provider_message_id}"
        ).hex

    def idempotency_token(self) -> str:
        return hashlib.sha256(f"{self.channel}:{self.provider_message_id}".encode()).hexdigest()[:40]


@dataclass(frozen=True)
class Accepted:
    contact_id: str
    message_id: str
    customer_id: str
    contact_created: bool
    #: What the journey asks next (voice renders it as TwiML); kept so a retry gets the same answer.
    actions: tuple[JourneyAction, ...] = ()
    #: The journey's status after this message: "", running, waiting, ended.
    journey_status: str = ""

    def to_json(self) -> bytes:
        return orjson.dumps({**self.__dict__, "actions": [action.to_dict() for action in self.actions]})

    @classmethod
    def from_json(cls, data: bytes) -> Accepted:
        raw = orjson.loads(data)
        return cls(
            raw["contact_id"],
            raw["message_id"],
            raw["customer_id"],
            bool(raw["contact_created"]),
            tuple(JourneyAction.from_dict(action) for action in raw.get("actions", ())),
            str(raw.get("journey_status", "")),
        )


def validate(message: InboundMessage) -> list[str]:
    """Problems with the message, each naming its field; empty when it can be accepted."""
    problems = []
    if message.channel == 0:
        problems.append("channel: must be specified")
    if message.from_kind == 0 or not message.from_value.strip():
        problems.append("from: an identifier kind and value are required")
    if not message.provider_message_id.strip():
        problems.append("provider_message_id: required (not blank), it makes retries safe")
    elif len(message.provider_message_id) > 256:
        problems.append("provider_message_id: at most 256 characters")
    if len(message.text.encode()) > MAX_TEXT_BYTES:
        problems.append(f"text: larger than {MAX_TEXT_BYTES} bytes")
    return problems


_NOT_TOKEN = re.compile(r"[^A-Za-z0-9_-]")
#: How `provisional_customer_id` begins: the customer has no profile (nor consent) in this region.
_PROVISIONAL_PREFIXES = ("remote-", "unresolved-")


def provisional_customer_id(*, home_region: str, reference: str, from_kind: int, from_value: str) -> str:
    """A customer id for a message whose sender identity resolved to no local profile.

    The message is never dropped for that: a customer homed in another region is named by
    the pseudonymous reference its home region gave (no personal data), and a sender the
    tenant's rules only *suggest* a match for is named by a hash of the identifier, so the
    same sender keeps one contact until an agent confirms or merges the profile.
    """
    if home_region:
        return f"remote-{_NOT_TOKEN.sub('', home_region)}-{_NOT_TOKEN.sub('', reference)[:48]}"
    digest = hashlib.sha256(f"{from_kind}:{from_value.strip().lower()}".encode()).hexdigest()[:32]
    return f"unresolved-{digest}"


def is_provisional(customer_id: str) -> bool:
    """Whether `customer_id` is one `provisional_customer_id` made (no local profile)."""
    return customer_id.startswith(_PROVISIONAL_PREFIXES)
