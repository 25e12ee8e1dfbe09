"""A routing pass offers many contacts at once and still never puts an agent over capacity.

Random agents (capacities, capacity groups, voice blocking other work, states, contacts already
held), random waiting contacts, and a view that may lag behind the store (it thinks agents
freer than they are): after one batched pass every ledger in the store holds what its agent may
hold, and every contact is either still waiting or offered to exactly the agent whose ledger
holds it.
"""

from __future__ import annotations

from typing import Any

from fakes.routing_fakes import TENANT, acd_context
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ccmesh.channels import Channel
from routing.domain import reservations as ledger_rules
from routing.domain.agents import AgentProfile, AgentState, CapacityGroup, capacity_refusal
from routing.domain.contacts import ContactRecord, ContactStatus
from routing.domain.queueing import QueueSpec, WaitingContact
from routing.domain.reservations import AgentLedger, Held, ReservationState
from routing.service_layer.acd_context import AcdSettings
from routing.service_layer.acd_offers import Offers
from routing.service_layer.acd_routing import RoutingPass

CHANNELS = [Channel.VOICE, Channel.WEBCHAT, Channel.SMS, Channel.EMAIL]
STATES = [AgentState.AVAILABLE, AgentState.AVAILABLE, AgentState.BUSY, AgentState.BREAK]
STRATEGIES = ["longest_idle", "least_occupied"]

agents = st.lists(
    st.fixed_dictionaries(
        {
            "capacity": st.dictionaries(st.sampled_from(CHANNELS), st.integers(0, 3), min_size=1).map(
                lambda capacity: {c: min(n, 1) if c is Channel.VOICE else n for c, n in capacity.items()}
            ),
            "group": st.none() | st.tuples(st.sets(st.sampled_from(CHANNELS), min_size=2), st.integers(0, 3)),
            "voice_blocks": st.booleans(),
            "state": st.sampled_from(
                [AgentState.AVAILABLE, AgentState.AVAILABLE, AgentState.BUSY, AgentState.BREAK]
            ),
            # Contacts it holds that the view does not know about yet (the view lags).
            "unseen": st.lists(st.sampled_from(CHANNELS), max_size=3),
        }
    ),
    min_size=1,
    max_size=8,
)
contacts = st.lists(
    st.tuples(
        st.sampled_from(CHANNELS), st.integers(1, 99), st.sampled_from(["longest_idle", "least_occupied"])
    ),
    max_size=40,
)


def _fits(ledger: AgentLedger) -> bool:
    """Whether the ledger's holds could have been reserved one by one (capacity, groups, voice)."""
    rebuilt = AgentLedger(ledger.profile, AgentState.AVAILABLE)
    for held in ledger.held:
        if capacity_refusal(rebuilt.profile, rebuilt.state, rebuilt.load(), held.channel) is not None:
            return False
        rebuilt = ledger_rules.reserve(rebuilt, held)
    return True


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(agents=agents, contacts=contacts)
async def test_a_batch_assignment_never_exceeds_any_agents_capacity(
    agents: list[dict[str, Any]], contacts: list[tuple[Channel, int, str]]
) -> None:
    ctx, store, _, clock = acd_context(AcdSettings(region="eu"))
    for strategy in STRATEGIES:
        queue = QueueSpec(TENANT, strategy, strategy=strategy)
        store.queues[(TENANT, queue.name)] = queue
        ctx.mirror.queues[(TENANT, queue.name)] = queue
    for n, spec in enumerate(agents):
        group = spec["group"]
        profile = AgentProfile(
            f"a{n}",
            capacity=spec["capacity"],
            voice_blocks_other_work=spec["voice_blocks"],
            groups=(CapacityGroup("g", frozenset(group[0]), group[1]),) if group else (),
        )
        seen = AgentLedger(profile, spec["state"], (), float(n), clock.now)
        await store.upsert_ledger(TENANT, profile.agent_id, lambda _, seen=seen: seen)
        # What the agent really holds beyond what the view saw: as many of `unseen` as fit.
        store.lagging = True
        ledger = seen
        for k, channel in enumerate(spec["unseen"]):
            if capacity_refusal(profile, ledger.state, ledger.load(), channel) is None:
                held = Held(f"u{n}-{k}", f"held{n}-{k}", channel, ReservationState.ACCEPTED, 0.0)
                ledger = AgentLedger(profile, AgentState.BUSY, (*ledger.held, held), ledger.idle_since)
        await store.upsert_ledger(TENANT, profile.agent_id, lambda _, ledger=ledger: ledger)
        store.lagging = False
    for n, (channel, priority, queue_name) in enumerate(contacts):
        contact = WaitingContact(f"c{n}", queue_name, channel, priority, clock.now - n)
        await store.update_contact(
            TENANT, contact.contact_id, lambda _, contact=contact: ContactRecord(contact)
        )

    offered = await RoutingPass(ctx, Offers(ctx)).run()

    held_by: dict[str, str] = {}
    for (_, agent_id), ledger in store.ledgers.items():
        assert _fits(ledger), ledger
        for held in ledger.held:
            if held.state is ReservationState.OFFERED:
                held_by[held.contact_id] = agent_id
    for n in range(len(contacts)):
        record = store.contact(f"c{n}")
        if record.status is ContactStatus.OFFERED:
            assert held_by.get(f"c{n}") == record.agent_id
        else:
            assert record.status is ContactStatus.WAITING and f"c{n}" not in held_by
    assert offered == len(held_by)
