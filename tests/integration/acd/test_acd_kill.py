"""A routing process SIGKILLed while it holds offers: another instance re-offers every one of
its reserved contacts once the reservation times out; nothing is lost or routed twice."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from _platform import SECRET, eventually
from nats.aio.client import Client as NATS

from ccmesh.channels import Channel
from routing.domain.agents import AgentProfile, AgentState
from routing.domain.contacts import ContactStatus
from routing.domain.queueing import QueueSpec, WaitingContact
from routing.domain.reservations import ReservationError
from routing.service_layer.acd import AcdSettings

from ._harness import REGION, TENANT, Observer, start_instance, stop_instance

pytestmark = pytest.mark.timeout(90)

OFFER_TIMEOUT = 1.5
CONTACTS = 20


@pytest.fixture
def killable_routing(nats_url: str, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "CC_REGION": REGION,
        "CC_NATS_URL": nats_url,
        "CC_AUTH_SECRET": SECRET,
        "CC_GRPC_PORT": "-1",
        "CC_INSTANCE_NAME": "routing-killable",
        "CC_ACD_OFFER_TIMEOUT_SECONDS": str(OFFER_TIMEOUT),
        "CC_ACD_TICK_SECONDS": "0.1",
    }
    log = tmp_path / "routing.log"
    with log.open("ab") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "routing"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=err,
            stdin=subprocess.DEVNULL,
        )
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith(b"{") and orjson.loads(line).get("ready") == "routing":
                break
        else:
            raise AssertionError(f"routing exited before it was ready: {log.read_text()[-2000:]}")
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


async def test_killed_instance_loses_no_reserved_contact(
    nats_url: str, nc: NATS, killable_routing: subprocess.Popen[bytes]
) -> None:
    observer = Observer()
    await observer.start(nc)
    survivor = await start_instance(nats_url, AcdSettings(OFFER_TIMEOUT, 3600, 0.1), run=False)
    service = survivor.service
    try:
        await service.configure_queue(QueueSpec(TENANT, "support"))
        for n in range(CONTACTS):
            await service.upsert_agent(TENANT, AgentProfile(f"a{n}", capacity={Channel.WEBCHAT: 1}))
            await service.set_agent_state(TENANT, f"a{n}", AgentState.AVAILABLE)
        for n in range(CONTACTS):
            await service.enqueue(
                TENANT, WaitingContact(f"c{n}", "support", Channel.WEBCHAT, 50, float(n), n)
            )

        # Only the killable process routes so far: wait until it has reserved every contact.
        async def all_offered() -> bool:
            return observer.count(ContactStatus.OFFERED) == CONTACTS

        await eventually(all_offered, seconds=30)
        first_offers = set(observer.offers_seen)
        while not observer.new_offers.empty():  # the killed instance's offers are never answered
            observer.new_offers.get_nowait()
        killable_routing.send_signal(signal.SIGKILL)
        killable_routing.wait(timeout=10)

        await service.start()
        accepted: dict[str, int] = {}
        async with asyncio.timeout(30):
            while len(accepted) < CONTACTS:
                record = await observer.new_offers.get()
                assert record.reservation_id not in first_offers
                # The contact record shows the offer a moment before the agent's ledger does.
                for _ in range(100):
                    try:
                        await service.accept(TENANT, record.agent_id, record.reservation_id)
                        break
                    except ReservationError:
                        await asyncio.sleep(0.02)
                else:
                    raise AssertionError(
                        f"offer {record.reservation_id} never reached agent {record.agent_id}"
                    )
                accepted[record.contact.contact_id] = accepted.get(record.contact.contact_id, 0) + 1
        await asyncio.sleep(0.3)  # let any stray duplicate offer show up before checking
    finally:
        await stop_instance(survivor)
        await observer.stop()

    assert sorted(accepted) == sorted(f"c{n}" for n in range(CONTACTS))
    assert set(accepted.values()) == {1}
    assert observer.count(ContactStatus.ASSIGNED) == CONTACTS
    assert observer.violations == []
    # Every contact was offered twice: once by the killed instance, once by the survivor.
    assert all(r.offers == 2 for r in observer.contacts.values())
