"""The conversation's pure parts: prompt texts per language, which actions become messages, and
the contact record and accepted result surviving their JSON round trip."""

from __future__ import annotations

import orjson

from gateway.domain.contact import MAX_THREAD_IDS, ChannelLeg, ContactRecord, JourneyState
from gateway.domain.conversation import JourneyAction, prompt_text, prompts_to_send
from gateway.domain.inbound import Accepted

PROMPTS = {"welcome": "Hello", "welcome.es": "Hola", "menu.pt-BR": "Olá (BR)", "menu": "Menu"}


def test_prompt_text_prefers_the_language_then_its_base_then_the_default_then_the_name() -> None:
    assert prompt_text(PROMPTS, "welcome", "es") == "Hola"
    assert prompt_text(PROMPTS, "welcome", "es-MX") == "Hola"
    assert prompt_text(PROMPTS, "menu", "pt-BR") == "Olá (BR)"
    assert prompt_text(PROMPTS, "welcome", "de") == "Hello"
    assert prompt_text(PROMPTS, "welcome", "") == "Hello"
    assert prompt_text(PROMPTS, "goodbye", "en") == "goodbye"


def test_only_prompts_on_text_channels_become_messages() -> None:
    actions = [
        JourneyAction("send_prompt", "n1", "welcome"),
        JourneyAction("await_input", "n2", "menu", mode="dtmf"),
        JourneyAction("hand_off", "n3", "support"),
        JourneyAction("await_input", "n4", ""),
    ]
    assert prompts_to_send(actions, "sms") == actions[:2]
    assert prompts_to_send(actions, "webchat") == actions[:2]
    assert prompts_to_send(actions, "api") == actions[:2]
    assert prompts_to_send(actions, "voice") == []
    assert prompts_to_send(actions, "task") == []


def test_a_record_stored_with_earlier_channel_names_reads_with_todays() -> None:
    stored = {
        "contact_id": "c1",
        "tenant_id": "acme",
        "entry_point": "acme-partner",
        "legs": {"generic": {"channel": "generic", "endpoint": "acme-partner", "address": "p-1"}},
        "last_channel": "generic",
        "journey": {"status": "waiting", "waiting_for": "callback", "callback_channel": "chat"},
    }
    record = ContactRecord.from_json(orjson.dumps(stored))
    assert list(record.legs) == ["api"] and record.legs["api"].channel == "api"
    assert (record.last_channel, record.journey.callback_channel) == ("api", "webchat")
    assert ContactRecord.from_json(record.to_json()) == record


def test_contact_record_round_trips_and_an_email_leg_keeps_its_thread() -> None:
    record = ContactRecord("c1", "acme", "acme-retail", "cust-1", "acme-email", language="en")
    record = record.with_leg(ChannelLeg("email", "acme-email", "jane@example.com", "Order", ("<a@x>",)))
    record = record.with_leg(ChannelLeg("email", "acme-email", "jane@example.com", "", ("<a@x>", "<b@x>")))
    record = record.with_leg(ChannelLeg("sms", "acme-sms", "+447700900001"))
    email = record.legs["email"]
    assert (email.subject, email.thread_ids) == ("Order", ("<a@x>", "<b@x>"))
    assert record.last_channel == "sms"
    assert record.leg("whatsapp") == record.legs["sms"]  # unknown channel: the last one used
    record = ContactRecord(**{**record.__dict__, "journey": JourneyState("waiting", "input", "voice")})
    assert ContactRecord.from_json(record.to_json()) == record


def test_a_long_thread_keeps_its_newest_ids() -> None:
    leg = ChannelLeg("email", "e", "a@b")
    leg = leg.with_thread("s", tuple(f"<{n}@x>" for n in range(MAX_THREAD_IDS + 5)))
    assert len(leg.thread_ids) == MAX_THREAD_IDS
    assert leg.thread_ids[-1] == f"<{MAX_THREAD_IDS + 4}@x>"


def test_accepted_keeps_its_actions_for_a_retry() -> None:
    accepted = Accepted(
        "c1",
        "m1",
        "cust",
        True,
        (JourneyAction("await_input", "ask", "menu", "dtmf", 10.0, 1, "", "Menu"),),
        "waiting",
    )
    assert Accepted.from_json(accepted.to_json()) == accepted
    # Results recorded before actions existed still read.
    assert Accepted.from_json(
        b'{"contact_id":"c","message_id":"m","customer_id":"x","contact_created":false}'
    ) == (Accepted("c", "m", "x", False))
