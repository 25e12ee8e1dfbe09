"""What the gateway remembers about an open contact: its channel legs and its journey.

A contact can move between channels (chat, then a call back; SMS, then e-mail); each channel
the customer used is a leg with the customer's address there, so a reply on that channel knows
where to go. Replies on e-mail also need the thread (subject and message ids) to stay threaded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from ccmesh import channels
from gateway.domain.outbound_message import phone_of_whatsapp_id

#: Message ids kept per e-mail thread for `References` (mail clients need the chain, not all of it).
MAX_THREAD_IDS = 20


@dataclass(frozen=True)
class ChannelLeg:
    #: The channel's name (`ccmesh.channels.Channel`).
    channel: str
    #: The ChannelEndpoint the customer reached (its metadata.name), or the API's entry point.
    endpoint: str
    #: Where the customer is reached on this channel: phone, wa_id, e-mail address, visitor id.
    address: str
    #: E-mail: the subject and the thread's message ids, oldest first.
    subject: str = ""
    thread_ids: tuple[str, ...] = ()

    def with_thread(self, subject: str, message_ids: tuple[str, ...]) -> ChannelLeg:
        ids = list(self.thread_ids)
        for message_id in message_ids:
            if message_id and message_id not in ids:
                ids.append(message_id)
        return replace(self, subject=subject or self.subject, thread_ids=tuple(ids[-MAX_THREAD_IDS:]))


@dataclass(frozen=True)
class JourneyState:
    #: "" (no journey: queue-only endpoint or API entry point), running, waiting, ended.
    status: str = ""
    #: input, ai, integration, callback (when waiting).
    waiting_for: str = ""
    #: The channel a requested call back will arrive on ("voice").
    callback_channel: str = ""


@dataclass(frozen=True)
class ContactRecord:
    contact_id: str
    tenant_id: str
    brand_id: str
    customer_id: str
    #: The endpoint the contact came in through (decides journey, queue and prompts).
    entry_point: str
    language: str = ""
    legs: dict[str, ChannelLeg] = field(default_factory=dict)
    #: The channel the customer wrote on last: where replies without a channel go.
    last_channel: str = ""
    journey: JourneyState = field(default_factory=JourneyState)
    #: The first step is done: the journey started (or the contact was queued).
    started: bool = False

    def with_leg(self, leg: ChannelLeg) -> ContactRecord:
        legs = dict(self.legs)
        previous = legs.get(leg.channel)
        if previous is not None and leg.channel == channels.Channel.EMAIL:
            # The thread grows: a reply must reference the whole chain, not just the last mail.
            leg = replace(previous, endpoint=leg.endpoint, address=leg.address).with_thread(
                leg.subject, leg.thread_ids
            )
        legs[leg.channel] = leg
        return replace(self, legs=legs, last_channel=leg.channel)

    def with_callback_number(self, voice_endpoint: str, phone: str) -> ContactRecord:
        """The record with the number a call back reaches (its voice leg, which the outbound side
        calls); not `with_leg`: replies keep going to the channel the customer writes on until
        the call happens."""
        leg = ChannelLeg(channels.Channel.VOICE.value, voice_endpoint, address=phone)
        return replace(
            self,
            legs={**self.legs, channels.Channel.VOICE.value: leg},
            journey=replace(self.journey, callback_channel=channels.Channel.VOICE.value),
        )

    def number_to_call(self) -> str:
        """The number a call back rings: the one given for it or the caller's (voice leg), else
        the customer's SMS or WhatsApp number; "" when the contact has none."""
        for channel in (channels.Channel.VOICE, channels.Channel.SMS):
            leg = self.legs.get(channel)
            if leg is not None and leg.address:
                return leg.address
        whatsapp = self.legs.get(channels.Channel.WHATSAPP)
        return phone_of_whatsapp_id(whatsapp.address) if whatsapp is not None else ""

    def leg(self, channel: str) -> ChannelLeg | None:
        return self.legs.get(channel) or self.legs.get(self.last_channel)

    def to_json(self) -> bytes:
        # orjson writes dataclasses (nested ones, tuples as lists) itself, as `asdict` would, at a
        # small fraction of its cost: a record is written at least twice per new contact.
        return orjson.dumps(self)

    @classmethod
    def from_json(cls, data: bytes) -> ContactRecord:
        raw: dict[str, Any] = orjson.loads(data)
        legs = {
            channels.stored_name(name): ChannelLeg(
                channel=channels.stored_name(str(leg["channel"])),
                endpoint=str(leg["endpoint"]),
                address=str(leg["address"]),
                subject=str(leg.get("subject", "")),
                thread_ids=tuple(leg.get("thread_ids", ())),
            )
            for name, leg in dict(raw.get("legs", {})).items()
        }
        journey: Mapping[str, Any] = raw.get("journey") or {}
        return cls(
            contact_id=str(raw["contact_id"]),
            tenant_id=str(raw["tenant_id"]),
            brand_id=str(raw.get("brand_id", "")),
            customer_id=str(raw.get("customer_id", "")),
            entry_point=str(raw.get("entry_point", "")),
            language=str(raw.get("language", "")),
            legs=legs,
            last_channel=channels.stored_name(str(raw.get("last_channel", ""))),
            journey=JourneyState(
                status=str(journey.get("status", "")),
                waiting_for=str(journey.get("waiting_for", "")),
                callback_channel=channels.stored_name(str(journey.get("callback_channel", ""))),
            ),
            started=bool(raw.get("started", False)),
        )
