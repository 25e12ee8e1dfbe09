"""The JSON body of every outbound webhook: one envelope, one `data` schema per event type and version.

Envelope (schema version 1), the same for every type:

    {"type": "contact_created",        event type (the payload name of contactcenter.events.v1.Event)
     "version": 1,                     version of this envelope and of `data`
     "id": "<event id>",               also the `webhook-id` header: stable across retries and replays
     "timestamp": "2026-...Z",         when the event occurred (RFC 3339, UTC)
     "tenantId": "acme", "brandId": "acme-retail", "region": "eu",
     "contactId": "<contact id>", "source": "gateway",
     "data": {...}}                    the payload message as proto3 JSON (camelCase field names,
                                       enums by name), e.g. contact_created:
                                       {"channel": "CHANNEL_KIND_SMS", "customerId": "...",
                                        "from": {"kind": "IDENTIFIER_KIND_PHONE", "value": "+44..."},
                                        "entryPoint": "..."}

Receivers must ignore fields they do not know: new fields are added without a version change;
a change of meaning bumps `version`.
"""

from __future__ import annotations

from typing import Any

import orjson
from google.protobuf.json_format import MessageToDict

from ccmesh.envelope import event_type
from contactcenter.events.v1 import events_pb2

BODY_VERSION = 1
#: Event types whose payload holds no personal data (ids, queues, outcomes, redacted analysis).
#: Every other type, including types added later, is treated as personal data until listed here.
NON_PERSONAL_TYPES = frozenset(
    {
        "contact_queued",
        "contact_offered",
        "contact_accepted",
        "contact_transferred",
        "contact_closed",
        "ai_insight",
        # The ACD's offer and queue changes: queues, agent and reservation ids, rule names.
        "offer_declined",
        "offer_timed_out",
        "contact_requeued",
        "contact_overflowed",
        "offer_withdrawn",
        # Queue, channel and endpoint name only: the number to call stays in the gateway.
        "callback_requested",
        # Surge guard: policy names, queues, metric values and actions; no contact in them.
        "fallback_engaged",
        "fallback_released",
        # Back-pressure: queue, channel, ceiling and counts; the answer's text is a MessageSent.
        "contact_deflected",
        # Not listed, so personal: message_status_changed (a provider's failure reason may quote
        # the recipient's number or address), contact_wrapped_up (the agent's free-text notes).
    }
)


def body_of(event: events_pb2.Event) -> dict[str, Any]:
    kind = event_type(event)
    timestamp = event.occurred_at.ToJsonString() if event.HasField("occurred_at") else None
    return {
        "type": kind,
        "version": BODY_VERSION,
        "id": event.event_id,
        "timestamp": timestamp,
        "tenantId": event.tenant.tenant_id,
        "brandId": event.tenant.brand_id,
        "region": event.region,
        "contactId": event.contact_id,
        "source": event.source,
        "data": MessageToDict(getattr(event, kind), always_print_fields_with_no_presence=True),
    }


def encode(body: dict[str, Any]) -> bytes:
    return orjson.dumps(body)


def carries_personal_data(kind: str) -> bool:
    return kind not in NON_PERSONAL_TYPES
