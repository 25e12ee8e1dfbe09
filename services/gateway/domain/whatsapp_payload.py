"""Meta's WhatsApp Cloud API webhook payload, read into what the gateway acts on.

One POST can carry several entries, changes, messages and statuses. Anything we do not
understand is kept (described in `skipped`, or accepted as a message naming its type) rather
than failing the request: Meta retries a webhook that does not answer 200, and a retry would
not make an unknown type any more understandable.

Media never travels in the webhook; messages carry references (media id, MIME type, SHA-256,
caption) that an agent or a component fetches from the Graph API when needed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MEDIA_TYPES = ("image", "audio", "video", "document", "sticker")


class PayloadError(ValueError):
    """The body is not a WhatsApp Business webhook at all (names what is wrong)."""


@dataclass(frozen=True)
class WhatsAppMessage:
    phone_number_id: str
    wa_id: str
    profile_name: str
    message_id: str
    kind: str
    text: str


@dataclass(frozen=True)
class WhatsAppStatus:
    phone_number_id: str
    message_id: str
    status: str
    recipient_id: str
    reason: str


@dataclass
class WhatsAppPayload:
    messages: list[WhatsAppMessage] = field(default_factory=list)
    statuses: list[WhatsAppStatus] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: Any) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


def _reference(kind: str, media: dict[str, Any]) -> str:
    parts = [
        f"{name}={_text(media[name])}"
        for name in ("id", "mime_type", "sha256", "filename")
        if media.get(name)
    ]
    return f"[{kind} {' '.join(parts)}]".replace(" ]", "]")


def message_text(message: dict[str, Any]) -> str:
    """What the customer sent, as text: the body, or references to what cannot be text."""
    kind = _text(message.get("type")) or "unknown"
    body = _dict(message.get(kind))
    if kind == "text":
        return _text(body.get("body"))
    if kind in MEDIA_TYPES:
        caption = _text(body.get("caption"))
        return f"{_reference(kind, body)} {caption}".strip()
    if kind == "location":
        fields = [
            f"{name}={_text(body[name])}"
            for name in ("latitude", "longitude", "name", "address")
            if name in body
        ]
        return f"[location {' '.join(fields)}]"
    if kind == "interactive":
        reply = _dict(body.get("button_reply")) or _dict(body.get("list_reply"))
        return f"{_text(reply.get('title'))} [interactive id={_text(reply.get('id'))}]".strip()
    if kind == "button":
        return f"{_text(body.get('text'))} [button payload={_text(body.get('payload'))}]".strip()
    return f"[unsupported message type {kind}]"


def _status_reason(status: dict[str, Any]) -> str:
    reasons = []
    for error in _list(status.get("errors")):
        error = _dict(error)
        reasons.append(f"{_text(error.get('code'))} {_text(error.get('title'))}".strip())
    return "; ".join(reason for reason in reasons if reason)


def parse_payload(body: Any) -> WhatsAppPayload:
    if not isinstance(body, dict):
        raise PayloadError("body: must be a JSON object")
    if body.get("object") != "whatsapp_business_account":
        raise PayloadError('object: must be "whatsapp_business_account"')
    if not isinstance(body.get("entry"), list):
        raise PayloadError("entry: must be a list")
    payload = WhatsAppPayload()
    for entry_index, entry in enumerate(body["entry"]):
        for change_index, change in enumerate(_list(_dict(entry).get("changes"))):
            where = f"entry[{entry_index}].changes[{change_index}]"
            change = _dict(change)
            if change.get("field") not in ("messages", None):
                payload.skipped.append(f"{where}: field {_text(change.get('field'))!r} is not handled")
                continue
            _read_value(_dict(change.get("value")), where, payload)
    return payload


def _read_value(value: dict[str, Any], where: str, payload: WhatsAppPayload) -> None:
    phone_number_id = _text(_dict(value.get("metadata")).get("phone_number_id"))
    names = {
        _text(_dict(contact).get("wa_id")): _text(_dict(_dict(contact).get("profile")).get("name"))
        for contact in _list(value.get("contacts"))
    }
    for index, raw in enumerate(_list(value.get("messages"))):
        message = _dict(raw)
        sender, message_id = _text(message.get("from")), _text(message.get("id"))
        if not sender.isdigit() or not message_id:
            payload.skipped.append(f"{where}.messages[{index}]: needs a numeric from and an id")
            continue
        payload.messages.append(
            WhatsAppMessage(
                phone_number_id=phone_number_id,
                wa_id=sender,
                profile_name=names.get(sender, ""),
                message_id=message_id,
                kind=_text(message.get("type")) or "unknown",
                text=message_text(message),
            )
        )
    for index, raw in enumerate(_list(value.get("statuses"))):
        status = _dict(raw)
        if not status.get("id") or not status.get("status"):
            payload.skipped.append(f"{where}.statuses[{index}]: needs an id and a status")
            continue
        payload.statuses.append(
            WhatsAppStatus(
                phone_number_id=phone_number_id,
                message_id=_text(status["id"]),
                status=_text(status["status"]),
                recipient_id=_text(status.get("recipient_id")),
                reason=_status_reason(status),
            )
        )
