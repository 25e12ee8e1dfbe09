"""Two routing instances against one nats-server: 2,000 contacts and 200 agents arriving and
leaving at random; no agent is ever over capacity, no contact is lost or routed twice."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import Counter

import pytest
from _platform import eventually
from nats.aio.client import Client as NATS

from ccmesh.channels import Channel
from routing.domain.agents import AgentProfile, AgentState
from routing.domain.contacts import ContactStatus
from routing.domain.queueing import QueueSpec, WaitingContact
from routing.domain.reservations import ReservationError
from routing.service_layer.acd import AcdService, AcdSettings

from ._harness import TENANT, Observer, start_instance, stop_instance

pytestmark = pytest.mark.timeout(120)

CONTACTS = 2000
AGENTS = 200
SETTINGS = AcdSettings(offer_timeout_seconds=0.6, heartbeat_timeout_seconds=3600, tick_seconds=0.1)


async def test_two_instances_never_overbook_and_route_each_contact_once(nats_url: str, nc: NATS) -> None:
    rng = random.Random(4)
    observer = Observer()
    await observer.start(nc)
    one = await start_instance(nats_url, SETTINGS)
    two = await start_instance(nats_url, SETTINGS)
    instances = [one.service, two.service]

    def pick() -> AcdService:
        return rng.choice(instances)

    await one.service.configure_queue(QueueSpec(TENANT, "support", strategy="least_occupied"))
    for n in range(AGENTS):
        capacity = {Channel.VOICE: 1, Channel.WEBCHAT: rng.randint(1, 3), Channel.SMS: 2}
        await pick().upsert_agent(TENANT, AgentProfile(f"a{n}", capacity=capacity))
        await pick().set_agent_state(TENANT, f"a{n}", AgentState.AVAILABLE)

    accepted: Counter[str] = Counter()
    closed: set[str] = set()
    answers: set[asyncio.Task[None]] = set()

    async def answer(record_id: str, agent_id: str, reservation_id: str) -> None:
        roll = rng.random()
        await asyncio.sleep(rng.random() * 0.02)
        try:
            if roll < 0.08:
                return  # never answered: the offer times out and the contact is re-queued
            if roll < 0.18:
                await pick().decline(TENANT, agent_id, reservation_id)
                return
            await pick().accept(TENANT, agent_id, reservation_id)
            accepted[record_id] += 1
            await asyncio.sleep(rng.random() * 0.05)
            await pick().complete(TENANT, agent_id, reservation_id)
            closed.add(record_id)
        except (ReservationError, LookupError):
            pass  # the offer was withdrawn (timeout or the agent left): nothing to answer

    async def agents_answer() -> None:
        while True:
            record = await observer.new_offers.get()
            task = asyncio.create_task(
                answer(record.contact.contact_id, record.agent_id, record.reservation_id)
            )
            answers.add(task)
            task.add_done_callback(answers.discard)

    async def agents_come_and_go() -> None:
        while True:
            await asyncio.sleep(0.01)
            agent = f"a{rng.randrange(AGENTS)}"
            state = rng.choice(
                [AgentState.OFFLINE, AgentState.BREAK, AgentState.AVAILABLE, AgentState.AVAILABLE]
            )
            await pick().set_agent_state(TENANT, agent, state)

    async def contacts_arrive() -> None:
        for n in range(CONTACTS):
            channel = rng.choice([Channel.WEBCHAT, Channel.WEBCHAT, Channel.VOICE, Channel.SMS])
            contact = WaitingContact(f"c{n}", "support", channel, rng.randint(1, 99), float(n), n)
            await pick().enqueue(TENANT, contact)
            if n % 50 == 0:
                await asyncio.sleep(0.01)

    background = [asyncio.create_task(agents_answer()), asyncio.create_task(agents_come_and_go())]
    try:
        await contacts_arrive()

        async def all_closed() -> bool:
            return len(closed) >= CONTACTS

        with contextlib.suppress(TimeoutError):  # the assertions below say what is missing
            await eventually(all_closed, seconds=90)
    finally:
        for task in background:
            task.cancel()
        await asyncio.gather(*background, *answers, return_exceptions=True)
        await stop_instance(one)
        await stop_instance(two)
        await observer.stop()

    progress = f"closed {len(closed)}, statuses {Counter(r.status.value for r in observer.contacts.values())}"
    assert observer.violations == [], progress
    assert len(observer.contacts) == CONTACTS
    assert observer.count(ContactStatus.CLOSED) == CONTACTS, progress
    assert set(accepted) == {f"c{n}" for n in range(CONTACTS)}
    assert max(accepted.values()) == 1
    # The run exercised what it claims to: re-offers after declines and timeouts happened.
    assert len(observer.offers_seen) > CONTACTS
