"""A customer and their history as people read them (agent page, customer API, `ccctl customers`).

Protobuf records in, JSON-ready dicts out: kind and channel by name, AI insights already told
for people by identity's timeline (`ccmesh.insights`), never an internal record.
"""

from __future__ import annotations

from typing import Any

from ccmesh import channels
from contactcenter.common.v1 import common_pb2
from contactcenter.identity.v1 import identity_pb2

TIMELINE_KINDS = {
    identity_pb2.TIMELINE_ENTRY_KIND_CONTACT: "contact",
    identity_pb2.TIMELINE_ENTRY_KIND_MESSAGE_IN: "message_in",
    identity_pb2.TIMELINE_ENTRY_KIND_MESSAGE_OUT: "message_out",
    identity_pb2.TIMELINE_ENTRY_KIND_TRANSFER: "transfer",
    identity_pb2.TIMELINE_ENTRY_KIND_AI_INSIGHT: "ai_insight",
    identity_pb2.TIMELINE_ENTRY_KIND_OUTCOME: "outcome",
}

#: Identifier kinds by the names the HTTP API and the CLI use.
IDENTIFIER_KINDS = {
    "phone": common_pb2.IDENTIFIER_KIND_PHONE,
    "email": common_pb2.IDENTIFIER_KIND_EMAIL,
    "whatsapp_id": common_pb2.IDENTIFIER_KIND_WHATSAPP_ID,
    "webchat_visitor_id": common_pb2.IDENTIFIER_KIND_WEBCHAT_VISITOR_ID,
    "email_thread": common_pb2.IDENTIFIER_KIND_EMAIL_THREAD,
    "crm_external_id": common_pb2.IDENTIFIER_KIND_CRM_EXTERNAL_ID,
}
_IDENTIFIER_NAMES = {kind: name for name, kind in IDENTIFIER_KINDS.items()}


def timeline_entry_view(entry: identity_pb2.TimelineEntry) -> dict[str, Any]:
    return {
        "kind": TIMELINE_KINDS.get(entry.kind, "other"),
        "channel": channels.name_of_kind(entry.channel),
        "contactId": entry.contact_id,
        "at": entry.at,
        "summary": entry.summary,
    }


def customer_view(customer: identity_pb2.Customer) -> dict[str, Any]:
    return {
        "customerId": customer.customer_id,
        "brand": customer.tenant.brand_id,
        "homeRegion": customer.home_region,
        "identifiers": [
            {"kind": _IDENTIFIER_NAMES.get(i.kind, "unknown"), "value": i.value} for i in customer.identifiers
        ],
        "attributes": dict(customer.attributes),
        "mergedFrom": list(customer.merged_from),
    }
