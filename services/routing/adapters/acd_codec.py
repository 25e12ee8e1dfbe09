"""JSON encoding of the ACD's records (agent ledgers, contact records, queue specs)."""

from __future__ import annotations

from typing import Any

import orjson

from routing.domain.agents import AgentProfile, AgentState, Channel
from routing.domain.contacts import ContactRecord, ContactStatus
from routing.domain.hours import BusinessHours, Window
from routing.domain.queueing import BullseyeRing, QueueSpec, ServiceLevelTarget, WaitingContact
from routing.domain.reservations import AgentLedger, Held, ReservationState


def profile_to_dict(profile: AgentProfile) -> dict[str, Any]:
    return {
        "id": profile.agent_id,
        "skills": dict(profile.skills),
        "languages": sorted(profile.languages),
        "brands": sorted(profile.brands),
        "home_region": profile.home_region,
        "capacity": {c.value: n for c, n in profile.capacity.items()},
        "voice_blocks_other_work": profile.voice_blocks_other_work,
    }


def profile_from_dict(data: dict[str, Any]) -> AgentProfile:
    return AgentProfile(
        data["id"],
        skills=data["skills"],
        languages=frozenset(data["languages"]),
        brands=frozenset(data["brands"]),
        home_region=data["home_region"],
        capacity={Channel(c): n for c, n in data["capacity"].items()},
        voice_blocks_other_work=data["voice_blocks_other_work"],
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
    data = orjson.loads(raw)
    return AgentLedger(
        profile_from_dict(data["profile"]),
        AgentState(data["state"]),
        tuple(Held(r, c, Channel(ch), ReservationState(s), d) for r, c, ch, s, d in data["held"]),
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
            "status": record.status.value,
            "reservation_id": record.reservation_id,
            "agent_id": record.agent_id,
            "deadline": record.deadline,
            "offers": record.offers,
            "passed_by": list(record.passed_by),
            "widened_to": list(record.widened_to),
            "answered_at": record.answered_at,
            "transfer_to": record.transfer_to,
        }
    )


def contact_from_bytes(raw: bytes) -> ContactRecord:
    d = orjson.loads(raw)
    contact = WaitingContact(
        d["id"],
        d["queue"],
        Channel(d["channel"]),
        d["priority"],
        d["enqueued_at"],
        d["sequence"],
        frozenset(d["skills"]),
        d["language"],
        d["preferred_agent"],
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
        d.get("answered_at", 0.0),  # these two are absent in records written before them
        d.get("transfer_to", ""),
    )


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
        {Channel(c): ServiceLevelTarget(f, s) for c, (f, s) in d["service_level"].items()},
        d["preferred_agent_timeout_seconds"],
        frozenset(d["shared_brands"]),
        _hours_from_dict(d.get("hours")),
        ServiceLevelTarget(*d.get("default_service_level", (0.8, 20.0))),
    )


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
    )
