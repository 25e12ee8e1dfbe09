"""JSON encoding of the ACD's records (agent ledgers, contact records, queue specs).

Channels are stored by their `ccmesh.channels` names and read back with `channels.parse`.
"""

from __future__ import annotations

import math
from typing import Any, TypeVar

import orjson

from ccmesh.channels import parse as channel
from routing.domain.agents import AgentProfile, AgentState, CapacityGroup
from routing.domain.contacts import ContactRecord, ContactStatus
from routing.domain.hours import BusinessHours, Window
from routing.domain.language_rule import STRICT, LanguageMode, LanguageRule, LanguageStep
from routing.domain.overflow import NO_MARK, OverflowMark
from routing.domain.queueing import BullseyeRing, QueueSpec, ServiceLevelTarget, WaitingContact
from routing.domain.reservations import AgentLedger, Held, ReservationState

T = TypeVar("T")


def profile_to_dict(profile: AgentProfile) -> dict[str, Any]:
    return {
        "id": profile.agent_id,
        "skills": dict(profile.skills),
        "languages": sorted(profile.languages),
        "brands": sorted(profile.brands),
        "home_region": profile.home_region,
        "capacity": {c.value: n for c, n in profile.capacity.items()},
        "voice_blocks_other_work": profile.voice_blocks_other_work,
        "groups": [[g.name, sorted(c.value for c in g.channels), g.capacity] for g in profile.groups],
    }


#: How many decoded records and profiles are kept, by their stored bytes (oldest dropped first).
DECODED_LIMIT = 4096
#: Ledgers decoded lately, by their stored value. One value is met several times: by the watch
#: that brings it and by the next change that starts from it (`ccmesh.kv` remembers it), and an
#: agent's profile, most of a ledger's bytes, rarely changes at all. Ledgers and profiles are
#: frozen, so one decoded copy serves every reader. (A contact record read by the watch is always
#: decoded afresh: see `contact_from_bytes`.)
_ledgers: dict[bytes, AgentLedger] = {}
_profiles: dict[bytes, AgentProfile] = {}


def _keep(cache: dict[bytes, T], raw: bytes, value: T) -> T:
    if len(cache) >= DECODED_LIMIT:
        del cache[next(iter(cache))]
    cache[raw] = value
    return value


def profile_from_dict(data: dict[str, Any]) -> AgentProfile:
    raw = orjson.dumps(data)
    found = _profiles.get(raw)
    return found if found is not None else _keep(_profiles, raw, _profile_from_dict(data))


def _profile_from_dict(data: dict[str, Any]) -> AgentProfile:
    return AgentProfile(
        data["id"],
        skills=data["skills"],
        languages=frozenset(data["languages"]),
        brands=frozenset(data["brands"]),
        home_region=data["home_region"],
        capacity={channel(c): n for c, n in data["capacity"].items()},
        voice_blocks_other_work=data["voice_blocks_other_work"],
        groups=tuple(
            CapacityGroup(name, frozenset(channel(c) for c in members), limit)
            for name, members, limit in data.get("groups", ())
        ),
    )


def ledger_to_bytes(ledger: AgentLedger) -> bytes:
    return orjson.dumps(
        {
            "profile": profile_to_dict(ledger.profile),
            "state": ledger.state.value,
            "held": [
                [h.reservation_id, h.contact_id, h.channel.value, h.state.value, h.deadline]
                for h in ledger.held
            ],
            "idle_since": ledger.idle_since,
            "last_heartbeat": ledger.last_heartbeat,
        }
    )


def ledger_from_bytes(raw: bytes) -> AgentLedger:
    found = _ledgers.get(raw)
    return found if found is not None else _keep(_ledgers, raw, _ledger_from_bytes(raw))


def _ledger_from_bytes(raw: bytes) -> AgentLedger:
    data = orjson.loads(raw)
    return AgentLedger(
        profile_from_dict(data["profile"]),
        AgentState(data["state"]),
        tuple(Held(r, c, channel(ch), ReservationState(s), d) for r, c, ch, s, d in data["held"]),
        data["idle_since"],
        data["last_heartbeat"],
    )


def contact_to_bytes(record: ContactRecord) -> bytes:
    c = record.contact
    return orjson.dumps(
        {
            "id": c.contact_id,
            "queue": c.queue,
            "channel": c.channel.value,
            "priority": c.priority,
            "enqueued_at": c.enqueued_at,
            "sequence": c.sequence,
            "skills": sorted(c.required_skills),
            "language": c.language,
            "preferred_agent": c.preferred_agent,
            "home_region": c.home_region,
            "intent": c.intent,
            "sentiment": c.sentiment,
            "status": record.status.value,
            "reservation_id": record.reservation_id,
            "agent_id": record.agent_id,
            "deadline": record.deadline,
            "offers": record.offers,
            "passed_by": list(record.passed_by),
            "widened_to": list(record.widened_to),
            "answered_at": record.answered_at,
            "transfer_to": record.transfer_to,
            "closed_action": record.closed_action,
            "closed_at": record.closed_at,
            "overflow": _mark_to_list(record.overflow),
            # A string, not an object: the watch decodes every record it brings, and a string is
            # only copied, however many candidates the decision names.
            "explanation": record.explanation,
        }
    )


#: Contact records the watch decoded lately, by their stored value, for the store's next change
#: of the record, which starts from that same value (see `stored_contact`).
_contacts: dict[bytes, ContactRecord] = {}


def contact_from_bytes(raw: bytes) -> ContactRecord:
    """A fresh record of the stored value (the working set tells a newer record by identity, and
    a contact can come back to a value it had before), kept for `stored_contact`."""
    return _keep(_contacts, raw, _contact_from_bytes(raw))


def stored_contact(raw: bytes) -> ContactRecord:
    """The record of a stored value a change starts from: decoded by the watch already, most
    often, so not again (a change only reads its record, whichever copy it is)."""
    found = _contacts.get(raw)
    return found if found is not None else contact_from_bytes(raw)


def _contact_from_bytes(raw: bytes) -> ContactRecord:
    d = orjson.loads(raw)
    contact = WaitingContact(
        d["id"],
        d["queue"],
        channel(d["channel"]),
        d["priority"],
        d["enqueued_at"],
        d["sequence"],
        frozenset(d["skills"]),
        d["language"],
        d["preferred_agent"],
        home_region=d.get("home_region", ""),  # absent in records written before hand-overs kept it
        intent=d.get("intent", ""),  # absent in records written before the ACD kept what AI found
        sentiment=d.get("sentiment", 0.0),
    )
    return ContactRecord(
        contact,
        ContactStatus(d["status"]),
        d["reservation_id"],
        d["agent_id"],
        d["deadline"],
        d["offers"],
        tuple(d["passed_by"]),
        tuple(d.get("widened_to", ())),  # absent in records written before `widen`
        d.get("answered_at", 0.0),  # these (and those below) are absent in records written before them
        d.get("transfer_to", ""),
        closed_action=d.get("closed_action", ""),
        closed_at=d.get("closed_at", 0.0),
        overflow=_mark_from_list(d.get("overflow")),
        explanation=d.get("explanation", ""),
    )


def _mark_to_list(mark: OverflowMark) -> list[Any] | None:
    if not mark.from_queue:
        return None
    # JSON has no infinity: a mark without a depth to wait for stores none.
    return [mark.from_queue, mark.at, None if math.isinf(mark.return_below) else mark.return_below]


def _mark_from_list(data: list[Any] | None) -> OverflowMark:
    if not data:
        return NO_MARK
    from_queue, at, below = data
    return OverflowMark(from_queue, at, math.inf if below is None else below)


def queue_to_bytes(queue: QueueSpec) -> bytes:
    return orjson.dumps(
        {
            "tenant": queue.tenant,
            "name": queue.name,
            "brand": queue.brand,
            "region": queue.region,
            "skills": sorted(queue.required_skills),
            "strategy": queue.strategy,
            "aging_per_minute": queue.aging_per_minute,
            "rings": [[r.after_seconds, r.min_proficiency] for r in queue.rings],
            "service_level": {
                c.value: [t.answered_fraction, t.within_seconds] for c, t in queue.service_level.items()
            },
            "preferred_agent_timeout_seconds": queue.preferred_agent_timeout_seconds,
            "shared_brands": sorted(queue.shared_brands),
            "hours": _hours_to_dict(queue.hours),
            "default_service_level": [
                queue.default_service_level.answered_fraction,
                queue.default_service_level.within_seconds,
            ],
            "language": [[step.after_seconds, step.mode.value] for step in queue.language.steps],
            "all_brands": queue.all_brands,
            "brand_sharing": queue.brand_sharing,
        }
    )


def queue_from_bytes(raw: bytes) -> QueueSpec:
    d = orjson.loads(raw)
    return QueueSpec(
        d["tenant"],
        d["name"],
        d["brand"],
        d["region"],
        frozenset(d["skills"]),
        d["strategy"],
        d["aging_per_minute"],
        tuple(BullseyeRing(t, p) for t, p in d["rings"]),
        {channel(c): ServiceLevelTarget(f, s) for c, (f, s) in d["service_level"].items()},
        d["preferred_agent_timeout_seconds"],
        frozenset(d["shared_brands"]),
        _hours_from_dict(d.get("hours")),
        ServiceLevelTarget(*d.get("default_service_level", (0.8, 20.0))),
        _language_from_list(d.get("language")),
        d.get("all_brands", False),
        d.get("brand_sharing", ""),
    )


def _language_from_list(steps: list[list[Any]] | None) -> LanguageRule:
    """The stored rule; absent in queues stored before language rules: the strict default."""
    if not steps:
        return STRICT
    return LanguageRule(tuple(LanguageStep(after, LanguageMode(mode)) for after, mode in steps))


def _spans(windows: tuple[Window, ...]) -> list[str]:
    return [f"{w.opens.isoformat('minutes')}-{w.closes.isoformat('minutes')}" for w in windows]


def _hours_to_dict(hours: BusinessHours | None) -> dict[str, Any] | None:
    if hours is None:
        return None
    return {
        "time_zone": hours.time_zone,
        "weekly": {day: _spans(w) for day, w in hours.weekly.items()},
        "holiday_country": hours.holiday_country,
        "holiday_subdivision": hours.holiday_subdivision,
        "overrides": {date: _spans(w) for date, w in hours.overrides.items()},
        "closed_action": hours.closed_action,
        "closed_target_queue": hours.closed_target_queue,
        "closed_target_region": hours.closed_target_region,
        "closed_message": hours.closed_message,
    }


def _hours_from_dict(data: dict[str, Any] | None) -> BusinessHours | None:
    if data is None:
        return None
    return BusinessHours.parse(
        data["time_zone"],
        data["weekly"],
        holiday_country=data["holiday_country"],
        holiday_subdivision=data["holiday_subdivision"],
        overrides=data["overrides"],
        closed_action=data["closed_action"],
        closed_target_queue=data["closed_target_queue"],
        closed_target_region=data.get("closed_target_region", ""),
        closed_message=data.get("closed_message", ""),
    )
