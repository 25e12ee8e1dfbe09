"""The agent workspace's pure rules: state names, the profile routing needs, offer bookkeeping.

An agent may answer only offers made to it and act only on contacts it holds; `OfferBook`
remembers the offers this socket was shown, so an answer to anything else is refused before
routing is asked.
"""

from __future__ import annotations

from dataclasses import dataclass

from ccmesh import channels
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


def routing_agent(agent: identity_pb2.Agent) -> routing_pb2.AgentDefinition:
    """Identity's agent profile as routing's definition (skills, languages, brands, capacity).

    Capacity is per channel as configured (both sides speak `ChannelKind`): `sms: 2, whatsapp: 2`
    is two SMS and two WhatsApp contacts at once. Voice is at most one call. Capacity groups
    (a limit on several channels together) pass through as configured.
    """
    capacity: dict[int, int] = {}
    for item in agent.channels:
        if channels.from_kind_or_none(item.channel) is not None:
            capacity[item.channel] = max(capacity.get(item.channel, 0), int(item.max_concurrent))
    voice = channels.to_kind(channels.Channel.VOICE)
    if voice in capacity:
        capacity[voice] = min(1, capacity[voice])
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
        capacity_groups=[
            routing_pb2.CapacityGroup(
                name=group.name, channels=list(group.channels), capacity=int(group.capacity)
            )
            for group in agent.capacity_groups
        ],
    )


@dataclass(frozen=True)
class Offer:
    reservation_id: str
    contact_id: str
    queue: str
    #: When routing made the offer (Unix seconds).
    offered_at: float = 0.0
    #: The region holding the customer's data, for a contact handed over from there.
    home_region: str = ""
    #: A queued call-back request: accepting it calls the customer.
    callback: bool = False


#: How many ended offers a book remembers (an agent's last few hours of offers, at most).
ENDED_REMEMBERED = 1024


class OfferBook:
    """The offers this agent was shown and has not answered yet, and the latest that ended.

    Routing may tell an offer again (an announcement swept from its outbox after a publish the
    stream did not confirm, which subscribers may have got all the same), even after its end:
    an offer already open, or ended, is not shown again.
    """

    def __init__(self) -> None:
        self._open: dict[str, Offer] = {}
        self._ended: dict[str, None] = {}  # in the order they ended (oldest forgotten first)

    def offered(self, offer: Offer) -> bool:
        """Open the offer; False (nothing changes) when it is open already or has ended."""
        if offer.reservation_id in self._open or offer.reservation_id in self._ended:
            return False
        self._open[offer.reservation_id] = offer
        return True

    def get(self, reservation_id: str) -> Offer | None:
        return self._open.get(reservation_id)

    def answered(self, reservation_id: str) -> Offer | None:
        """The offer ends (answered, withdrawn, timed out): the open one, or None if not open."""
        self._ended[reservation_id] = None
        if len(self._ended) > ENDED_REMEMBERED:
            del self._ended[next(iter(self._ended))]
        return self._open.pop(reservation_id, None)
