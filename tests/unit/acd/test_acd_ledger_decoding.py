"""A stored ledger is decoded once however often it is met (the watch that brings it, the next
change that starts from it), agents' ledgers share their decoded profile, a contact's change
starts from the record its watch decoded, and what is kept stays bounded; each value still reads
back as exactly what was written."""

from dataclasses import replace

from ccmesh.channels import Channel
from routing.adapters import acd_codec
from routing.adapters.acd_codec import (
    contact_from_bytes,
    contact_to_bytes,
    ledger_from_bytes,
    ledger_to_bytes,
    stored_contact,
)
from routing.domain.agents import AgentProfile, AgentState, CapacityGroup
from routing.domain.contacts import ContactRecord, ContactStatus
from routing.domain.queueing import WaitingContact
from routing.domain.reservations import AgentLedger, Held, ReservationState

PROFILE = AgentProfile(
    "a1",
    skills={"billing": 3, "state": 1},
    languages=frozenset({"en", "de"}),
    brands=frozenset({"retail"}),
    capacity={Channel.WEBCHAT: 3, Channel.VOICE: 1, Channel.SMS: 2},
    groups=(CapacityGroup("text", frozenset({Channel.WEBCHAT, Channel.SMS}), 4),),
)
LEDGER = AgentLedger(
    PROFILE,
    AgentState.AVAILABLE,
    (Held("r1", "c1", Channel.WEBCHAT, ReservationState.OFFERED, 12.5),),
    3.0,
    4.0,
)


def test_a_stored_ledger_reads_back_as_written_and_is_decoded_once() -> None:
    raw = ledger_to_bytes(LEDGER)
    first = ledger_from_bytes(raw)
    assert first == LEDGER
    assert ledger_from_bytes(bytes(raw)) is first  # an equal value delivered again: no decoding


def test_ledgers_of_one_agent_share_the_decoded_profile() -> None:
    accepted = replace(LEDGER, held=(replace(LEDGER.held[0], state=ReservationState.ACCEPTED),))
    offered = ledger_from_bytes(ledger_to_bytes(LEDGER))
    answered = ledger_from_bytes(ledger_to_bytes(accepted))
    assert answered == accepted and answered is not offered
    assert answered.profile is offered.profile
    changed = replace(PROFILE, capacity={Channel.WEBCHAT: 1})
    other = ledger_from_bytes(ledger_to_bytes(replace(LEDGER, profile=changed)))
    assert other.profile == changed and other.profile.channels_offered == (Channel.WEBCHAT,)


def test_what_is_kept_stays_bounded() -> None:
    for n in range(acd_codec.DECODED_LIMIT + 50):
        ledger = replace(LEDGER, profile=replace(PROFILE, agent_id=f"a{n}"), last_heartbeat=float(n))
        assert ledger_from_bytes(ledger_to_bytes(ledger)) == ledger
    assert len(acd_codec._ledgers) <= acd_codec.DECODED_LIMIT
    assert len(acd_codec._profiles) <= acd_codec.DECODED_LIMIT


def test_a_change_starts_from_the_record_the_watch_decoded_while_the_watch_decodes_afresh() -> None:
    record = ContactRecord(WaitingContact("c1", "support", Channel.WEBCHAT, 50, 1.0), offers=2)
    raw = contact_to_bytes(record)
    watched = contact_from_bytes(raw)
    assert watched == record
    assert stored_contact(bytes(raw)) is watched
    # The same value delivered again is a new object: the routing pass tells records by identity.
    again = contact_from_bytes(bytes(raw))
    assert again == watched and again is not watched
    other = contact_to_bytes(ContactRecord(record.contact, ContactStatus.OFFERED, "r1", "a1", 9.0, 3))
    assert stored_contact(other).status is ContactStatus.OFFERED
