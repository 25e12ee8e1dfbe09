"""The end-to-end surge run: a burst against three agents, with the surge guard and without.

Each run starts its own region as `ccctl up` starts it (`bench.platform.region`: the bench's
generic provider endpoint and queue), with fast detectors (`CC_SURGE_*`: one observation a
second, so a burst is judged within seconds instead of minutes). The floor: three agents on the
bench queue, and three on a neighbouring queue that has no traffic of its own and lacks the
skill the bench queue asks for (capacity one each; an agent holds a contact `handle` seconds,
then completes it). New customers write to the
provider API: a quiet spell the agents keep up with, then ten times that rate (the burst).

- guard off: no fallback policy; the neighbouring queue's agents stay idle;
- guard on: a policy applied with `ccctl apply` (arrivals or waiting surge on the bench queue ->
  `overflow` to the neighbouring queue, `scale`, `notify`; released after a calm spell).

Per run: each contact's wait from its webhook to its first offer; the share answered (offered to
an agent) within the target; contacts never offered (lost); with the guard, when it engaged
(seconds after the burst began) and whether it released by itself once the queue drained. The
result is the ratio of the two shares.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from bench.platform.agents import AgentFloor, OfferLog, log_in
from bench.platform.loadgen import LoadGenerator
from bench.platform.region import (
    BRAND,
    QUEUE,
    REGION,
    ROOT,
    SIGNING_SECRET,
    TENANT,
    start_region,
    stop_region,
)
from ccmesh import naming
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from contactcenter.identity.v1 import identity_pb2
from contactcenter.routing.v1 import routing_pb2

#: Fast detectors, as the e2e tests run them: one observation a second, an anomaly alerts after
#: a second, an alert clears after two calm seconds; sensitivity 2 (half the deviation fires).
SURGE_ENV = {
    "CC_SURGE_INTERVAL_SECONDS": "1",
    "CC_SURGE_MIN_DURATION_SECONDS": "1",
    "CC_SURGE_CLEAR_DURATION_SECONDS": "2",
    "CC_SURGE_SENSITIVITY": "2",
}
SPARE_QUEUE = "bench-spare"
#: What the bench queue asks of its agents (the neighbouring queue's agents lack it).
SKILL = "orders"
POLICY = "bench-burst"
NUMBER_BASE = "+49172"
#: Where each run's contacts are counted as lost (never offered) after the last was sent.
DRAIN_SECONDS = 120.0
#: How long the guard has to release by itself once every contact was offered.
RELEASE_WAIT_SECONDS = 60.0


@dataclass(frozen=True)
class SurgeRunSettings:
    agents: int = 3
    spare_agents: int = 3
    #: Seconds an agent holds each contact (three agents: one contact a second between them).
    handle_seconds: float = 3.0
    quiet_rate: float = 0.3
    quiet_seconds: float = 20.0
    burst_factor: float = 10.0
    burst_seconds: float = 20.0
    #: Seconds from the webhook to the offer within which a contact counts as answered in time.
    target_seconds: float = 20.0


def policy_document(spare_queue: str) -> dict[str, Any]:
    return {
        "name": POLICY,
        "tenant": TENANT,
        "queue": QUEUE,
        "metrics": ["arrivals", "waiting"],
        "engageAfterSeconds": 0,
        "releaseAfterSeconds": 5,
        "actions": [{"type": "overflow", "targetQueue": spare_queue}, {"type": "scale"}, {"type": "notify"}],
    }


def _center_file(directory: Path, policies: list[dict[str, Any]]) -> Path:
    documents = list(yaml.safe_load_all((ROOT / "examples" / "eu.yaml").read_text()))
    for document in documents:
        if document and document.get("kind") == "ContactCenter":
            document["spec"]["surge"] = {"policies": policies}
    path = directory / "center.yaml"
    path.write_text(yaml.safe_dump_all(documents))
    return path


async def _ccctl_apply(path: Path, nats_url: str, secret: str) -> None:
    """`ccctl apply` as a user runs it (the policy's queues and actions checked on the way)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ccctl.main",
        "apply",
        "-f",
        str(path),
        "--nats-url",
        nats_url,
        env={**os.environ, "CC_AUTH_SECRET": secret, "CC_REGION": REGION},
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"ccctl apply failed ({process.returncode}): {err.decode()}{out.decode()}")


async def _upsert_agents(region: Any, ids: list[str], queue: str, skills: list[str]) -> None:
    """Agent profiles in identity (the workspace copies them into routing at log-in)."""
    identity = region.identity()
    for agent_id in ids:
        await identity.UpsertAgent(
            identity_pb2.UpsertAgentRequest(
                agent=identity_pb2.Agent(
                    agent_id=agent_id,
                    tenant=common_pb2.TenantRef(tenant_id=TENANT),
                    display_name=agent_id,
                    languages=["en"],
                    channels=[
                        identity_pb2.ChannelCapacity(channel=common_pb2.CHANNEL_KIND_API, max_concurrent=1)
                    ],
                    skills=[identity_pb2.Skill(name=name, proficiency=3) for name in skills],
                    brands=[BRAND],
                    queues=[queue],
                    home_region=REGION,
                )
            )
        )


async def _queues(region: Any) -> None:
    """The bench queue asks for a skill its own agents have and the neighbouring queue's lack:
    without a widened overflow, the neighbours cannot take its contacts."""
    routing = region.routing()
    for name, skills in ((QUEUE, [SKILL]), (SPARE_QUEUE, [])):
        await routing.ConfigureQueue(
            routing_pb2.ConfigureQueueRequest(
                tenant_id=TENANT,
                queue=routing_pb2.QueueDefinition(
                    name=name, brand=BRAND, language="any", required_skills=skills
                ),
            )
        )


class GuardEvents:
    """FallbackEngaged / FallbackReleased of the run's policy as they are published (wall clock)."""

    def __init__(self) -> None:
        self.engaged: list[tuple[float, events_pb2.FallbackEngaged]] = []
        self.released: list[tuple[float, events_pb2.FallbackReleased]] = []
        self.changed = asyncio.Event()

    async def on_message(self, message: Any) -> None:
        event = events_pb2.Event.FromString(message.data)
        kind = event.WhichOneof("payload")
        if kind == "fallback_engaged" and event.fallback_engaged.policy == POLICY:
            self.engaged.append((time.time(), event.fallback_engaged))
        elif kind == "fallback_released" and event.fallback_released.policy == POLICY:
            self.released.append((time.time(), event.fallback_released))
        self.changed.set()

    async def wait_released(self, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while not self.released:
            self.changed.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            try:
                await asyncio.wait_for(self.changed.wait(), timeout=remaining)
            except TimeoutError:
                return bool(self.released)
        return True


async def surge_run(guard: bool, settings: SurgeRunSettings) -> dict[str, Any]:
    """One burst on a fresh region; what its customers got."""
    with tempfile.TemporaryDirectory(prefix="bench-surge-") as tmp:
        directory = Path(tmp)
        region = await start_region(directory / "platform", "default", 1000, environment=SURGE_ENV)
        try:
            await _queues(region)
            events = GuardEvents()
            for kind in ("fallback_engaged", "fallback_released"):
                await region.nc.subscribe(
                    naming.event_subject(REGION, TENANT, kind, "*"), cb=events.on_message
                )
            if guard:
                await _ccctl_apply(
                    _center_file(directory, [policy_document(SPARE_QUEUE)]),
                    region.platform.nats_url,
                    region.secret,
                )
            return await _burst(region, guard, events, settings)
        finally:
            await stop_region(region)


async def _burst(region: Any, guard: bool, events: GuardEvents, settings: SurgeRunSettings) -> dict[str, Any]:
    agent_ids = [f"bench-agent-{index:03d}" for index in range(settings.agents)]
    spare_ids = [f"bench-spare-{index:03d}" for index in range(settings.spare_agents)]
    await _upsert_agents(region, agent_ids, QUEUE, [SKILL])
    await _upsert_agents(region, spare_ids, SPARE_QUEUE, [])
    log = OfferLog()
    session = aiohttp.ClientSession()
    agents = [
        await log_in(
            session,
            region.agent_socket_url,
            region.authority(),
            TENANT,
            agent_id,
            log,
            "complete",
            region.routing(),
            capacity=1,
            hold_seconds=settings.handle_seconds,
        )
        for agent_id in [*agent_ids, *spare_ids]
    ]
    floor = AgentFloor(agents, session)
    try:
        async with aiohttp.ClientSession() as load_session:
            load = LoadGenerator(load_session, region.webhook_url, SIGNING_SECRET, NUMBER_BASE)
            quiet = await load.step(0, settings.quiet_rate, settings.quiet_seconds)
            burst_started = time.time()
            burst = await load.step(1, settings.quiet_rate * settings.burst_factor, settings.burst_seconds)
        contacts = [*_contacts(quiet), *_contacts(burst)]
        await log.wait_offered([c for c, _ in contacts], DRAIN_SECONDS)
        drained_at = time.time()
        released = await events.wait_released(RELEASE_WAIT_SECONDS) if guard else False
    finally:
        await floor.close()
    waits = sorted(log.offered_at[c] - at for c, at in contacts if c in log.offered_at)
    burst_ids = {c for c, _ in _contacts(burst)}
    burst_waits = [log.offered_at[c] - at for c, at in contacts if c in burst_ids and c in log.offered_at]
    in_time = sum(1 for wait in waits if wait <= settings.target_seconds)
    by_spare = sum(1 for c, _ in contacts if any(a in spare_ids for a, _, _ in log.offers.get(c, [])))
    sent = int(quiet["sent"]) + int(burst["sent"])  # type: ignore[call-overload]
    result: dict[str, Any] = {
        "sent": sent,
        "accepted": len(contacts),
        "rejected": sent - len(contacts),
        "lost": len(contacts) - len(waits),
        "answered_within_target_share": round(in_time / len(contacts), 4) if contacts else 0.0,
        "burst_answered_within_target_share": round(
            sum(1 for w in burst_waits if w <= settings.target_seconds) / len(burst_ids), 4
        )
        if burst_ids
        else 0.0,
        "wait_to_offer_p50_seconds": round(statistics.median(waits), 2) if waits else None,
        "wait_to_offer_max_seconds": round(waits[-1], 2) if waits else None,
        "taken_by_neighbouring_queue": by_spare,
        "agent_errors": dict(log.errors),
    }
    if guard:
        engaged = events.engaged[0] if events.engaged else None
        result["engaged_after_burst_start_seconds"] = (
            round(engaged[0] - burst_started, 2) if engaged else None
        )
        result["engaged_actions"] = list(engaged[1].actions) if engaged else []
        result["engaged_failed_actions"] = list(engaged[1].failed_actions) if engaged else []
        result["engaged_metric"] = engaged[1].evidence.metric if engaged else None
        result["released_by_itself"] = released and events.released[0][1].reason == "normal"
        result["released_after_drain_seconds"] = (
            round(max(0.0, events.released[0][0] - drained_at), 2) if events.released else None
        )
    return result


def _contacts(step: dict[str, Any]) -> list[tuple[str, float]]:
    """(contact id, sent at) of the contacts a load step created."""
    return [(str(contact_id), float(at)) for contact_id, at in step["contacts"]]


async def surge_comparison(settings: SurgeRunSettings) -> dict[str, Any]:
    """The same burst without the guard, then with it; the ratio of the shares answered in time."""
    off = await surge_run(False, settings)
    on = await surge_run(True, settings)
    share_off = off["answered_within_target_share"]
    share_on = on["answered_within_target_share"]
    return {
        "settings": {
            "agents": settings.agents,
            "neighbouring_queue_agents": settings.spare_agents,
            "handle_seconds": settings.handle_seconds,
            "quiet_per_second": settings.quiet_rate,
            "quiet_seconds": settings.quiet_seconds,
            "burst_per_second": settings.quiet_rate * settings.burst_factor,
            "burst_seconds": settings.burst_seconds,
            "target_seconds": settings.target_seconds,
        },
        "guard_off": off,
        "guard_on": on,
        "answered_within_target_ratio": round(share_on / share_off, 3) if share_off else float("inf"),
    }
