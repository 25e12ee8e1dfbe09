"""Schemas of the request and response bodies in the gateway's OpenAPI document."""

from __future__ import annotations

from typing import Any

from ccmesh import channels
from ccmesh.channels import Channel


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string", "examples": ["INVALID_ARGUMENT", "RATE_LIMITED"]},
                    "message": {
                        "type": "string",
                        "description": "What was wrong, naming the field or header.",
                    },
                },
            }
        },
    },
    "Sender": {
        "type": "object",
        "required": ["kind", "value"],
        "additionalProperties": False,
        "properties": {
            "kind": {"enum": ["phone", "email", "whatsapp_id", "webchat_visitor_id", "crm_external_id"]},
            "value": {"type": "string"},
        },
    },
    "TenantMessage": {
        "type": "object",
        "required": ["channel", "from", "providerMessageId"],
        "additionalProperties": False,
        "properties": {
            "channel": {"enum": list(channels.NAMES)},
            "from": ref("Sender"),
            "text": {"type": "string", "maxLength": 65536},
            "providerMessageId": {"type": "string", "maxLength": 256, "description": "Makes retries safe."},
            "entryPoint": {"type": "string"},
            "brand": {"type": "string"},
        },
    },
    "GenericMessage": {
        "type": "object",
        "required": ["from", "providerMessageId"],
        "additionalProperties": False,
        "properties": {
            "channel": {"enum": list(channels.NAMES), "default": Channel.API.value},
            "from": ref("Sender"),
            "text": {"type": "string", "maxLength": 65536},
            "providerMessageId": {"type": "string", "maxLength": 256, "description": "Makes retries safe."},
        },
    },
    "Customer": {
        "type": "object",
        "required": ["customerId", "identifiers"],
        "properties": {
            "customerId": {"type": "string"},
            "brand": {"type": "string"},
            "homeRegion": {"type": "string"},
            "identifiers": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"kind": {"type": "string"}, "value": {"type": "string"}},
                },
            },
            "attributes": {"type": "object", "additionalProperties": {"type": "string"}},
            "mergedFrom": {"type": "array", "items": {"type": "string"}},
        },
    },
    "Timeline": {
        "type": "object",
        "required": ["customerId", "entries", "nextPageToken"],
        "properties": {
            "customerId": {"type": "string"},
            "entries": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "kind": {
                            "enum": [
                                "contact",
                                "message_in",
                                "message_out",
                                "transfer",
                                "ai_insight",
                                "outcome",
                            ]
                        },
                        "channel": {"type": "string"},
                        "contactId": {"type": "string"},
                        "at": {"type": "number", "description": "Unix time, seconds."},
                        "summary": {"type": "string"},
                    },
                },
            },
            "nextPageToken": {"type": "string", "description": "Empty on the last page."},
        },
    },
    "Accepted": {
        "type": "object",
        "required": ["contactId", "messageId", "duplicate", "contactCreated"],
        "properties": {
            "contactId": {"type": "string"},
            "messageId": {"type": "string"},
            "customerId": {"type": "string"},
            "duplicate": {"type": "boolean", "description": "A retry of an already accepted message."},
            "contactCreated": {"type": "boolean"},
        },
    },
    "TwilioSms": {
        "type": "object",
        "required": ["MessageSid", "From", "To"],
        "properties": {
            "MessageSid": {"type": "string"},
            "AccountSid": {"type": "string"},
            "From": {"type": "string"},
            "To": {"type": "string"},
            "Body": {"type": "string"},
            "NumMedia": {"type": "string"},
            "MediaUrl0": {"type": "string"},
            "MediaContentType0": {"type": "string"},
        },
    },
    "TwilioCallStatus": {
        "type": "object",
        "required": ["CallSid", "CallStatus"],
        "properties": {
            "CallSid": {"type": "string"},
            "CallStatus": {
                "enum": [
                    "queued",
                    "initiated",
                    "ringing",
                    "in-progress",
                    "completed",
                    "busy",
                    "no-answer",
                    "failed",
                    "canceled",
                ]
            },
            "CallDuration": {"type": "string"},
        },
    },
    "TwilioRecordingStatus": {
        "type": "object",
        "required": ["CallSid", "RecordingSid", "RecordingStatus"],
        "properties": {
            "CallSid": {"type": "string"},
            "RecordingSid": {"type": "string"},
            "RecordingUrl": {"type": "string", "description": "On the endpoint's provider API host."},
            "RecordingStatus": {"enum": ["in-progress", "completed", "absent", "failed"]},
            "RecordingDuration": {"type": "string"},
            "RecordingChannels": {"enum": ["1", "2"]},
        },
    },
    "TwilioCall": {
        "type": "object",
        "required": ["CallSid", "From", "To"],
        "properties": {
            "CallSid": {"type": "string"},
            "From": {"type": "string"},
            "To": {"type": "string"},
            "Direction": {
                "type": "string",
                "description": "`outbound-api` on our call backs: To is the customer.",
            },
            "Digits": {"type": "string"},
            "SpeechResult": {"type": "string"},
        },
    },
    "WhatsAppWebhook": {
        "type": "object",
        "required": ["object", "entry"],
        "description": "Meta's payload: entry[].changes[].value (metadata, contacts, messages, statuses).",
        "properties": {"object": {"const": "whatsapp_business_account"}, "entry": {"type": "array"}},
    },
    "WhatsAppResult": {
        "type": "object",
        "properties": {
            "accepted": {"type": "array", "items": {"type": "object"}},
            "statuses": {"type": "integer"},
            "skipped": {"type": "array", "items": {"type": "string"}},
        },
    },
}
