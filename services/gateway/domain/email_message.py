"""An inbound e-mail, parsed with the standard library's `email` package into what a contact needs.

The text is the plain-text part (HTML is reduced to its text when there is none), with the
quoted earlier conversation trimmed (`>` lines, "On ... wrote:" and "Original Message" blocks)
so the timeline shows what the customer wrote now. Threading uses Message-ID, In-Reply-To and
References. Attachments come out as parts with their bytes; the caller stores them and keeps
references only.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.errors import MessageDefect
from email.message import EmailMessage
from email.utils import getaddresses
from html.parser import HTMLParser

#: Longest text kept from one mail (the timeline shows a message, not an archive).
MAX_TEXT_CHARACTERS = 32 * 1024
_MESSAGE_ID = re.compile(r"<[^<>\s]{1,900}>")
_QUOTE_HEADER = re.compile(r"^\s*(On .{1,300} wrote:|El .{1,300} escribió:|Le .{1,300} a écrit :)\s*$")
_ORIGINAL = re.compile(r"^\s*-{2,}\s*(Original Message|Forwarded message)\s*-{2,}\s*$", re.IGNORECASE)
_OUTLOOK_HEADER = re.compile(r"^\s*From:\s.+$")


class MalformedEmail(ValueError):
    """The data is not a mail the gateway can take; the message says why (for the SMTP reply)."""


@dataclass(frozen=True)
class AttachmentPart:
    filename: str
    content_type: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass(frozen=True)
class ParsedEmail:
    #: The sender's address (From, lower-cased).
    sender: str
    #: Where replies go (Reply-To when given, else the sender).
    reply_to: str
    subject: str
    #: This mail's Message-ID (`<...>`), or one derived from its content when it has none.
    message_id: str
    #: Ids this mail answers, most recent first (In-Reply-To, then References backwards).
    answers: tuple[str, ...]
    text: str
    attachments: tuple[AttachmentPart, ...]
    #: The From header's display name ("Jane Doe" of `Jane Doe <jane@example.org>`), if any.
    sender_name: str = ""


def parse_email(raw: bytes, *, envelope_sender: str = "") -> ParsedEmail:
    if not raw.strip():
        raise MalformedEmail("the message is empty")
    mail = message_from_bytes(raw, policy=policy.default)
    if not isinstance(mail, EmailMessage):  # pragma: no cover - policy.default always builds one
        raise MalformedEmail("not an RFC 5322 message")
    if not mail.keys():
        raise MalformedEmail("the message has no header section")
    sender = _address(mail, "From") or envelope_sender.strip().lower()
    if not sender or "@" not in sender:
        raise MalformedEmail("From: a sender address is required")
    message_id = _first_id(_header(mail, "Message-ID")) or (
        f"<{hashlib.sha256(raw).hexdigest()[:40]}@gateway.invalid>"
    )
    answers = _ids(_header(mail, "In-Reply-To")) + tuple(reversed(_ids(_header(mail, "References"))))
    text, attachments = _body(mail)
    return ParsedEmail(
        sender=sender,
        reply_to=_address(mail, "Reply-To") or sender,
        subject=" ".join(_header(mail, "Subject").split())[:998],
        message_id=message_id,
        answers=tuple(dict.fromkeys(i for i in answers if i != message_id)),
        text=trim_quoted(text)[:MAX_TEXT_CHARACTERS],
        attachments=tuple(attachments),
        sender_name=_display_name(mail, "From"),
    )


def _header(mail: EmailMessage, name: str) -> str:
    try:
        value = mail.get(name)
    except (MessageDefect, ValueError, IndexError):
        # A header the parser cannot make sense of is treated as absent, not as a crash.
        return ""
    return str(value) if value is not None else ""


def _address(mail: EmailMessage, name: str) -> str:
    pairs = getaddresses([_header(mail, name)])
    for _, address in pairs:
        if "@" in address:
            return address.strip().lower()
    return ""


def _display_name(mail: EmailMessage, name: str) -> str:
    for display, address in getaddresses([_header(mail, name)]):
        if "@" in address:
            return " ".join(display.split())[:100]
    return ""


def _ids(value: str) -> tuple[str, ...]:
    return tuple(_MESSAGE_ID.findall(value))


def _first_id(value: str) -> str:
    found = _ids(value)
    return found[0] if found else ""


def _body(mail: EmailMessage) -> tuple[str, list[AttachmentPart]]:
    attachments: list[AttachmentPart] = []
    plain: list[str] = []
    html: list[str] = []
    for part in mail.walk():
        if part.is_multipart():
            continue
        disposition = part.get_content_disposition()
        content_type = part.get_content_type()
        if disposition == "attachment" or (disposition == "inline" and part.get_filename()):
            attachments.append(_attachment(part))
        elif content_type == "text/plain":
            plain.append(_text(part))
        elif content_type == "text/html":
            html.append(html_to_text(_text(part)))
        elif not content_type.startswith("text/"):
            attachments.append(_attachment(part))
    text = "\n".join(plain) if plain else "\n".join(html)
    return text.strip(), attachments


def _text(part: EmailMessage) -> str:
    try:
        content = part.get_content()
    except (LookupError, UnicodeError, AssertionError):
        # An unknown or lying charset: keep what decodes rather than refuse the mail.
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else ""
    return content if isinstance(content, str) else ""


def _attachment(part: EmailMessage) -> AttachmentPart:
    payload = part.get_payload(decode=True)
    data = payload if isinstance(payload, bytes) else b""
    filename = part.get_filename() or "attachment"
    return AttachmentPart(filename=filename[:255], content_type=part.get_content_type(), data=data)


def trim_quoted(text: str) -> str:
    """What the customer wrote now, without the quoted earlier conversation below it."""
    kept: list[str] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if _QUOTE_HEADER.match(line) or _ORIGINAL.match(line):
            break
        if _OUTLOOK_HEADER.match(line) and kept and not kept[-1].strip():
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line)
    trimmed = "\n".join(kept).strip()
    # A mail that is nothing but quotes (a bare forward) keeps its text rather than becoming empty.
    return trimmed or text.strip()


class _TextOnly(HTMLParser):
    _BLOCKS = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "blockquote"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "head"):
            self._skip += 1
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head") and self._skip:
            self._skip -= 1
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _TextOnly()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).split("\n"))
    return "\n".join(line for line in lines if line)
