"""The agent workspace's pure rules: state names, the profile routing needs, offer bookkeeping.

An agent may answer only offers made to it and act only on contacts it holds; `OfferBook`
remembers the offers this socket was shown, so an answer to anything else is refused before
routing is asked.
"""

from __future__ import annotations

from dataclasses import dataclass

from contactcenter.common.v1 import common_pb2
from contactcenter.identity.v1 import identity_pb2
from contactcenter.routing.v1 import routing_pb2

#: The states an agent may choose; busy is routing's to set.
SETTABLE_STATES: dict[str, int] = {
    "available": routing_pb2.AGENT_STATE_AVAILABLE,
    "break": routing_pb2.AGENT_STATE_BREAK,
    "after_contact_work": routing_pb2.AGENT_STATE_AFTER_CONTACT_WORK,
    "offline": routing_pb2.AGENT_STATE_OFFLINE,
}
STATE_NAMES: dict[int, str] = {
    routing_pb2.AGENT_STATE_UNSPECIFIED: "offline",
    routing_pb2.AGENT_STATE_OFFLINE: "offline",
    routing_pb2.AGENT_STATE_AVAILABLE: "available",
    routing_pb2.AGENT_STATE_BUSY: "busy",
    routing_pb2.AGENT_STATE_AFTER_CONTACT_WORK: "after_contact_work",
    routing_pb2.AGENT_STATE_BREAK: "break",
}
WORKSPACE_ROLES = frozenset({"agent", "supervisor"})
SUPERVISOR_ROLES = frozenset({"supervisor", "admin"})

#: The customer's channel -> the ACD channel whose capacity it uses (routing's own mapping).
ACD_CHANNELS: dict[int, int] = {
    common_pb2.CHANNEL_KIND_VOICE: routing_pb2.ACD_CHANNEL_VOICE,
    common_pb2.CHANNEL_KIND_WEBCHAT: routing_pb2.ACD_CHANNEL_CHAT,
    common_pb2.CHANNEL_KIND_API: routing_pb2.ACD_CHANNEL_CHAT,
    common_pb2.CHANNEL_KIND_SMS: routing_pb2.ACD_CHANNEL_MESSAGING,
    common_pb2.CHANNEL_KIND_WHATSAPP: routing_pb2.ACD_CHANNEL_MESSAGING,
    common_pb2.CHANNEL_KIND_EMAIL: routing_pb2.ACD_CHANNEL_EMAIL,
}


def routing_agent(agent: identity_pb2.Agent) -> routing_pb2.AgentDefinition:
    """Identity's agent profile as routing's definition (skills, languages, brands, capacity)."""
    capacity: dict[int, int] = {}
    for item in agent.channels:
        acd = ACD_CHANNELS.get(item.channel)
        if acd is not None:
            capacity[acd] = max(capacity.get(acd, 0), int(item.max_concurrent))
    if routing_pb2.ACD_CHANNEL_VOICE in capacity:
        capacity[routing_pb2.ACD_CHANNEL_VOICE] = min(1, capacity[routing_pb2.ACD_CHANNEL_VOICE])
    return routing_pb2.AgentDefinition(
        agent_id=agent.agent_id,
        skills={skill.name: max(1, min(5, int(skill.proficiency or 1))) for skill in agent.skills},
        languages=list(agent.languages),
        brands=list(agent.brands),
        home_region=agent.home_region,
        capacity=[
            routing_pb2.ChannelCapacity(channel=channel, capacity=limit)  # type: ignore[arg-type]
            for channel, limit in sorted(capacity.items())
        ],
    )


@dataclass(frozen=True)
class Offer:
    reservation_id: str
    contact_id: str
    queue: str
    #: When routing made the offer (Unix seconds).
    offered_at: float = 0.0


class OfferBook:
    """The offers this agent was shown and has not answered yet."""

    def __init__(self) -> None:
        self._open: dict[str, Offer] = {}

    def offered(self, offer: Offer) -> None:
        self._open[offer.reservation_id] = offer

    def get(self, reservation_id: str) -> Offer | None:
        return self._open.get(reservation_id)

    def answered(self, reservation_id: str) -> Offer | None:
        return self._open.pop(reservation_id, None)
