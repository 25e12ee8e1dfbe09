"""Parsing inbound mail (standard library `email`, policy.default): text, quotes, threads,
attachments, and mail that cannot be taken."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from gateway.domain.email_message import MalformedEmail, html_to_text, parse_email, trim_quoted
from gateway.domain.outbound_message import failure_of_status, phone_of_whatsapp_id, retry_delay


def _mail(**headers: str) -> EmailMessage:
    mail = EmailMessage()
    for name, value in headers.items():
        mail[name.replace("_", "-")] = value
    return mail


def test_plain_text_threading_and_reply_to() -> None:
    mail = _mail(
        From="Jane <Jane@Example.com>",
        Reply_To="jane.work@example.com",
        Subject="Re:   Broken   kettle",
        Message_ID="<m3@example.com>",
        In_Reply_To="<m2@example.com>",
        References="<m1@example.com> <m2@example.com>",
    )
    mail.set_content("Thanks!\n\nOn Tue, 1 Jan 2030, Support wrote:\n> Your kettle ships today.\n")
    parsed = parse_email(mail.as_bytes())
    assert (parsed.sender, parsed.reply_to) == ("jane@example.com", "jane.work@example.com")
    assert parsed.subject == "Re: Broken kettle"
    assert parsed.message_id == "<m3@example.com>"
    assert parsed.answers == ("<m2@example.com>", "<m1@example.com>")
    assert parsed.text == "Thanks!"


def test_html_only_mail_becomes_text_and_attachments_come_out_with_their_bytes() -> None:
    mail = _mail(From="sam@example.com", Subject="Photo")
    mail.set_content(
        "<html><head><style>p{}</style></head><body><p>Hello&nbsp;there</p><p>2nd</p></body></html>",
        subtype="html",
    )
    mail.add_attachment(b"\x89PNG....", maintype="image", subtype="png", filename="kettle.png")
    parsed = parse_email(mail.as_bytes())
    assert parsed.text == "Hello there\n2nd"  # whitespace, &nbsp; included, is collapsed
    (attachment,) = parsed.attachments
    assert (attachment.filename, attachment.content_type, attachment.data) == (
        "kettle.png",
        "image/png",
        b"\x89PNG....",
    )
    assert len(attachment.sha256) == 64
    # No Message-ID: one derived from the content, so a resend is still recognised.
    assert parsed.message_id == parse_email(mail.as_bytes()).message_id
    assert parsed.message_id.endswith("@gateway.invalid>")


def test_quotes_are_trimmed_but_a_mail_of_only_quotes_keeps_its_text() -> None:
    assert trim_quoted("New part\n> old\n> older") == "New part"
    assert trim_quoted("Hi\n\n-----Original Message-----\nFrom: x") == "Hi"
    assert trim_quoted("Hi\n\nFrom: Support <s@x>\nSent: today") == "Hi"
    assert trim_quoted("> only a quote") == "> only a quote"
    assert html_to_text("<div>a<br>b</div><script>alert(1)</script>") == "a\nb"


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b"", "empty"),
        (b"   \r\n", "empty"),
        (b"Subject: hi\r\n\r\nno sender", "From"),
        (b"From: not-an-address\r\n\r\nbody", "From"),
    ],
)
def test_mail_that_cannot_be_taken_says_why(raw: bytes, problem: str) -> None:
    with pytest.raises(MalformedEmail, match=problem):
        parse_email(raw)


def test_an_envelope_sender_stands_in_for_a_missing_from_and_a_bad_charset_does_not_crash() -> None:
    raw = b"Subject: x\r\nContent-Type: text/plain; charset=x-unknown-42\r\n\r\nhello \xff"
    parsed = parse_email(raw, envelope_sender="Bounce@Example.com")
    assert parsed.sender == "bounce@example.com"
    assert parsed.text.startswith("hello")


def test_provider_answers_decide_retry_or_report() -> None:
    assert failure_of_status(503, "down").transient
    assert failure_of_status(429, "slow down", "7").retry_after == 7.0
    assert failure_of_status(429, "slow down", "soon").retry_after == 0.0
    assert not failure_of_status(400, "bad number").transient
    assert not failure_of_status(401, "bad token").transient
    assert [retry_delay(n, 1.0, 0.0) for n in (1, 2, 3)] == [1.0, 2.0, 4.0]
    assert retry_delay(1, 1.0, 30.0) == 30.0
    assert phone_of_whatsapp_id("447700900201") == "+447700900201"
