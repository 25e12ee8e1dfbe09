"""Faults under load: the region driven as the platform bench drives it (signed webhooks from new
customers, agents that accept at once, see `loadgen.py` and `agents.py`) while a process is
SIGKILLed, and an audit of what every accepted contact went through afterwards.

Used by the chaos test tier (`tests/chaos/`) and by `python -m bench.platform --leader-kill`.

The faults: a service instance (`kill_service`, restarted after a pause as an orchestrator
would), the region's single nats-server (`kill_nats`, restarted on the same store), and on a
3-node JetStream cluster the server leading a stream (`kill_leader_of`, restarted once the
stream has a new leader; the next kill waits until every server is current again).

What every contact went through afterwards is told by `fault_audit.py`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import math
import os
import re
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiohttp import web
from nats.js.errors import KeyNotFoundError, NoKeysError, NotFoundError

from bench.platform.agents import AgentFloor, OfferLog, create_agents, log_in
from bench.platform.fault_audit import WEBHOOK_EVENT_TYPES, StreamStory, stream_stories, told
from bench.platform.loadgen import LoadProcess
from bench.platform.region import (
    BRAND,
    QUEUE,
    REGION,
    SIGNING_SECRET,
    TENANT,
    BenchRegion,
    start_region,
    stop_region,
)
from ccctl.discovery_client import PLATFORM_SERVICES
from ccctl.launcher import _start_service, wait_until_serving
from ccmesh import naming
from ccmesh.configplane.loader import validate_document
from ccmesh.configplane.store import ConfigStore
from ccmesh.natsserver import NatsServer, free_port
from ccmesh.outbox import entries_of
from ccmesh.retention import STORES
from ccmesh.stores import stream_name
from ccmesh.testing.topologies import three_node_cluster

#: Faults runs' customers: +49 171 <2 digits of the phase> <6 digits>, apart from the bench's own.
NUMBER_BASE = "+49171"
#: Offers the agents do not answer (their gateway died with them) come back this soon.
OFFER_TIMEOUT_SECONDS = 6.0
#: What every service of a faults run is given, besides the bench's own settings.
ENVIRONMENT = {
    "CC_ACD_OFFER_TIMEOUT_SECONDS": str(OFFER_TIMEOUT_SECONDS),
    "CC_AGENT_OFFER_TIMEOUT_SECONDS": str(OFFER_TIMEOUT_SECONDS),
}
#: A production cluster keeps three copies of every stream and bucket.
CLUSTER_ENVIRONMENT = {"CC_STREAM_REPLICAS": "3"}
#: Upper bound on a server restart (JetStream caught up), never a timing assertion.
SERVER_READY_SECONDS = 60.0


@dataclass
class FaultRun:
    """A region under load: its agents (who log in again when their socket closes), its load
    generator, and what they saw."""

    region: BenchRegion
    load: LoadProcess
    floor: AgentFloor
    log: OfferLog
    #: The next load phase's number (each phase's customers are new).
    next_phase: int = 0
    #: This process's environment before the region set its own (restored when it closes).
    saved_environment: dict[str, str] = field(default_factory=dict)

    async def phase(
        self,
        rate: float,
        seconds: float,
        fault: Callable[[], Awaitable[Any]] | None = None,
        fault_after: float = 0.0,
    ) -> Phase:
        """Load for `seconds` at `rate` new contacts per second; `fault` starts `fault_after`
        seconds in and may outlast the load."""
        number = self.next_phase
        self.next_phase += 1
        started = time.time()
        loading = asyncio.create_task(self.load.step(number, rate, seconds))
        fault_started = fault_ended = None
        detail: Any = None
        if fault is not None:
            await asyncio.sleep(fault_after)
            fault_started = time.time()
            try:
                detail = await fault()
            except BaseException:
                with contextlib.suppress(BaseException):
                    await loading
                raise
            fault_ended = time.time()
        answer = await loading
        return Phase(
            started=started,
            answer=answer,
            contacts=[contact_id for contact_id, _ in answer["contacts"]],
            sent_at={contact_id: sent for contact_id, sent in answer["contacts"]},
            fault_started=fault_started,
            fault_ended=fault_ended,
            fault_detail=detail,
        )


@dataclass
class Phase:
    started: float
    answer: dict[str, Any]
    contacts: list[str]
    sent_at: dict[str, float]
    fault_started: float | None
    fault_ended: float | None
    fault_detail: Any = None


async def open_fault_run(
    data_dir: Path,
    *,
    cluster: bool = False,
    replicas: dict[str, int] | None = None,
    agents: int = 8,
    capacity: int = 3,
    hold_seconds: float = 0.5,
    sampler: str = "default",
    short_offer_timeout: bool = True,
) -> FaultRun:
    """A region (on its own nats-server, or on a 3-node cluster with every store at R3) with
    `agents` agents of `capacity` contacts each, who hold an accepted contact `hold_seconds`;
    offers time out after OFFER_TIMEOUT_SECONDS, or routing's default without
    `short_offer_timeout`."""
    environment = {
        **(ENVIRONMENT if short_offer_timeout else {}),
        **(CLUSTER_ENVIRONMENT if cluster else {}),
    }
    saved = dict(os.environ)
    topology = None
    if cluster:
        topology = await asyncio.to_thread(
            three_node_cluster, data_dir / "cluster", "c1", [naming.placement_tag(REGION)]
        )
    try:
        region = await start_region(
            data_dir / "platform",
            sampler,
            10_000,
            replicas=replicas,
            cluster=topology,
            environment=environment,
        )
    except BaseException:
        _restore(saved)
        raise
    try:
        log = OfferLog()
        ids = await create_agents(region.identity(), TENANT, REGION, BRAND, QUEUE, agents, capacity)
        routing = region.routing()
        session = aiohttp.ClientSession()
        authority = region.authority()
        workspace_agents = [
            await log_in(
                session,
                region.agent_socket_url,
                authority,
                TENANT,
                agent_id,
                log,
                "complete",
                routing,
                capacity,
                hold_seconds,
            )
            for agent_id in ids
        ]
        floor = AgentFloor(workspace_agents, session, relogin=(region.agent_socket_url, authority))
        load = await LoadProcess.start(region.webhook_url, SIGNING_SECRET, NUMBER_BASE)
    except BaseException:
        await stop_region(region)
        _restore(saved)
        raise
    return FaultRun(region, load, floor, log, saved_environment=saved)


async def close_fault_run(run: FaultRun) -> None:
    try:
        await run.load.stop()
        await run.floor.close()
    finally:
        await stop_region(run.region)
        _restore(run.saved_environment)


def _restore(environment: dict[str, str]) -> None:
    """The services of a faults run inherit settings through this process's environment (as
    under `ccctl up`); whatever runs next in this process must not."""
    os.environ.clear()
    os.environ.update(environment)


async def warm_up(run: FaultRun, seconds: float = 90.0) -> None:
    """Until the bench endpoint answers and its contacts are offered (config is picked up live)."""
    deadline = time.monotonic() + seconds
    while True:
        phase = await run.phase(5, 1.0)
        await run.log.wait_offered(phase.contacts, 10.0)
        if phase.contacts and all(c in run.log.offered_at for c in phase.contacts):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"no offers during warm-up: {phase.answer['statuses']}")


# ---- faults -------------------------------------------------------------------------------------


async def kill_service(run: FaultRun, service: str, replica: int = 1, down_seconds: float = 3.0) -> str:
    """SIGKILL one instance of a service, start a new one after `down_seconds` (as a pod is
    restarted) and return once every instance serves again."""
    platform = run.region.platform
    victim = next(s for s in platform.services if s.name == service and s.replica == replica)
    victim.process.send_signal(signal.SIGKILL)
    await asyncio.to_thread(victim.process.wait, 30)
    platform.services.remove(victim)
    await asyncio.sleep(down_seconds)
    region_index = platform.plan.regions.index(victim.region)
    platform.services.append(
        _start_service(platform, run.region.secret, region_index, PLATFORM_SERVICES.index(service), replica)
    )
    await wait_until_serving(platform)
    return f"{service}#{replica} (pid {victim.process.pid})"


async def kill_nats(run: FaultRun, down_seconds: float = 5.0) -> str:
    """SIGKILL the region's single nats-server; start it again on the same store."""
    server = run.region.platform.nats
    assert server is not None, "the region runs on its own nats-server"
    pid = server.pid
    server.kill()
    await asyncio.sleep(down_seconds)
    server.start()
    await server.wait_healthy_async(SERVER_READY_SECONDS)
    return f"nats-server (pid {pid})"


async def region_stream_leaders(run: FaultRun) -> dict[str, str]:
    """Each region stream (streams, buckets and object stores of `ccmesh.retention`) -> the
    name of the server leading it."""
    js = run.region.nc.jetstream()
    leaders: dict[str, str] = {}
    for store in STORES:
        name = stream_name(store, REGION)
        with contextlib.suppress(NotFoundError):
            info = await js.stream_info(name)
            if info.cluster is not None and info.cluster.leader:
                leaders[name] = info.cluster.leader
    return leaders


def _server(run: FaultRun, name: str) -> NatsServer:
    assert run.region.cluster is not None, "the region runs on a cluster"
    return run.region.cluster.server(name)


async def kill_leader_of(run: FaultRun, stream: str, down_seconds: float = 4.0) -> dict[str, Any]:
    """SIGKILL the server leading `stream`; after `down_seconds`, start it again on its store and
    wait until every server of the cluster is healthy and caught up. Returns what was killed,
    which streams it led, and how long each of them (and each consumer of `stream` it led) had
    no leader (None: not within `down_seconds`). Each elects on its own: nats-server's followers
    wait 4 to 9 s (a fixed, random raft timeout) for a lost leader before they campaign, which
    no client can shorten."""
    leaders = await region_stream_leaders(run)
    leader = leaders[stream]
    led = sorted(s for s, n in leaders.items() if n == leader)
    js = run.region.nc.jetstream()
    consumers = [
        c.name
        for c in await js.consumers_info(stream)
        if c.cluster is not None and c.cluster.leader == leader
    ]
    server = _server(run, leader)
    killed_at = time.monotonic()
    killed_wall = time.time()
    server.kill()
    asked = [*(_stream_info(js, s) for s in led), *(_consumer_info(js, stream, c) for c in consumers)]
    leaderless = await asyncio.gather(*(_new_leader_after(ask, leader, down_seconds) for ask in asked))
    await asyncio.sleep(max(0.0, killed_at + down_seconds - time.monotonic()))
    server.start()
    await wait_cluster_current(run)
    seconds = [None if s is None else round(s, 2) for s in leaderless]
    return {
        "server": leader,
        "stream": stream,
        "killed_at": killed_wall,
        "led": led,
        "leaderless_seconds": dict(zip(led, seconds[: len(led)], strict=True)),
        # Each durable consumer of `stream` is a raft group of its own, electing on its own.
        "consumers_leaderless_seconds": dict(zip(consumers, seconds[len(led) :], strict=True)),
        # The same from the surviving servers' own logs (to the millisecond; the asks above see
        # a new leader only at their next try).
        "elected_after_seconds": elections_logged(run, leader, killed_wall, down_seconds),
    }


#: A server's log line saying it became the leader of a stream or a consumer.
_NEW_LEADER = re.compile(
    r"(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d\.\d+) \[INF\] JetStream cluster new (?:stream|consumer) leader "
    r"for '[^>]+> (.+)'"
)


def elections_logged(run: FaultRun, killed: str, since: float, seconds: float) -> dict[str, float]:
    """Each stream (`name`) or consumer (`stream > consumer`) whose new leader a surviving server
    logged within `seconds` after `since` (wall clock), and how many seconds after it, first
    elected first."""
    assert run.region.cluster is not None
    elected: dict[str, float] = {}
    for server in run.region.cluster.servers:
        if server.spec.name == killed:
            continue
        for found in _NEW_LEADER.finditer(server.log_file.read_text(errors="replace")):
            at = datetime.strptime(found[1], "%Y/%m/%d %H:%M:%S.%f").timestamp()
            if since <= at <= since + seconds:
                elected[found[2]] = min(elected.get(found[2], math.inf), round(at - since, 2))
    return dict(sorted(elected.items(), key=lambda item: item[1]))


#: Reads a stream's or a consumer's info (which names its leader).
InfoAsk = Callable[[], Awaitable[Any]]


def _stream_info(js: Any, stream: str) -> InfoAsk:
    return lambda: js.stream_info(stream)


def _consumer_info(js: Any, stream: str, consumer: str) -> InfoAsk:
    return lambda: js.consumer_info(stream, consumer, timeout=1.0)


async def _new_leader_after(ask: InfoAsk, killed: str, seconds: float) -> float | None:
    """Seconds until what `ask` reads names a leader other than `killed`, asked every 0.2 s for
    at most `seconds` (None when it did not)."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        with contextlib.suppress(Exception):  # the API itself may be electing: ask again
            info = await asyncio.wait_for(ask(), 1.0)
            if info.cluster is not None and info.cluster.leader and info.cluster.leader != killed:
                return time.monotonic() - started
        await asyncio.sleep(0.2)
    return None


async def wait_cluster_current(run: FaultRun) -> None:
    """Every server answers the full `/healthz` (JetStream current with its peers)."""
    assert run.region.cluster is not None
    deadline = time.monotonic() + SERVER_READY_SECONDS
    for server in run.region.cluster.servers:
        while not await asyncio.to_thread(server.healthy, False):
            server.raise_if_exited()
            if time.monotonic() > deadline:
                raise RuntimeError(f"{server.spec.name} not current after {SERVER_READY_SECONDS:.0f}s")
            await asyncio.sleep(0.2)


async def settle(run: FaultRun, contacts: list[str], seconds: float) -> dict[str, StreamStory]:
    """Wait (at most `seconds`) until every contact's agent released it (or routing refused the
    release) and its story is on the stream (`told`: closed, every offer the agents saw
    announced); the stream's stories as they then stand."""
    deadline = time.monotonic() + seconds
    log = run.log
    while time.monotonic() < deadline:
        if all(c in log.released_contacts or c in log.release_refused for c in contacts):
            break
        await asyncio.sleep(0.25)
    while True:
        stories = await stream_stories(run.region.nc.jetstream(), contacts)
        if all(told(c, log, stories[c]) for c in contacts) or time.monotonic() > deadline:
            return stories
        await asyncio.sleep(1.0)


async def unsent_announcements(run: FaultRun, most: int = 10) -> list[str]:
    """The events the region's ACD records still carry in their outboxes (`ccmesh.outbox`),
    as `<record>: <subject>`: what a failed audit's missing announcements are waiting in."""
    js = run.region.nc.jetstream()
    kv = await js.key_value(naming.acd_bucket(REGION))
    try:
        keys = await kv.keys()
    except NoKeysError:
        return []
    found: list[str] = []
    for key in keys:
        with contextlib.suppress(KeyNotFoundError):
            found += [f"{key}: {entry.subject}" for entry in entries_of((await kv.get(key)).value)]
        if len(found) >= most:
            break
    return found[:most]


def error_lines(run: FaultRun, distinct: int = 3) -> dict[str, str]:
    """Per service log with ERROR lines: how many, and the first few distinct messages with the
    exception that ended their traceback (the logs live in a temporary directory; an assertion
    message is where they are read)."""
    found: dict[str, str] = {}
    for path in sorted((run.region.platform.plan.data_dir / "logs").glob("*.log")):
        lines = path.read_text(errors="replace").splitlines()
        messages: dict[str, None] = {}
        count = 0
        for index, line in enumerate(lines):
            if " ERROR " not in line or not line[:1].isdigit():
                continue
            count += 1
            # A traceback runs until the next log line (they start with the time).
            following = itertools.takewhile(lambda text: not text[:1].isdigit(), lines[index + 1 :])
            raised = [text for text in following if text and not text.startswith(" ")]
            ending = f" -> {raised[-1][:160]}" if raised else ""
            messages.setdefault(_logged(line.split(" ERROR ", 1)[1]) + ending)
        if count:
            found[path.stem] = f"{count} ERROR lines, e.g. {list(messages)[:distinct]}"
    return found


def _logged(rest: str) -> str:
    logger, _, tail = rest.partition(" ")
    return f"{logger}: {tail.partition(']: ')[2][:160]}"


def environment_note() -> dict[str, Any]:
    """The machine's load when a faults run starts or ends: shared cores explain slow recoveries."""
    return {"load_average": [round(x, 2) for x in os.getloadavg()], "cores": os.cpu_count()}


# ---- webhooks out -------------------------------------------------------------------------------


class WebhookReceiver:
    """A tenant's webhook endpoint on loopback: every delivery's `webhook-id`, event type and
    contact, in arrival order."""

    def __init__(self) -> None:
        self.deliveries: list[tuple[str, str, str]] = []
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def _receive(self, request: web.Request) -> web.Response:
        body = orjson.loads(await request.read())
        self.deliveries.append(
            (request.headers.get("webhook-id", ""), body.get("type", ""), body.get("contactId", ""))
        )
        return web.Response(status=204)

    def webhook_ids(self) -> set[str]:
        return {webhook_id for webhook_id, _, _ in self.deliveries}

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hooks", self._receive)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        port = free_port()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        self.url = f"http://127.0.0.1:{port}/hooks"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


async def subscribe_webhooks(run: FaultRun, url: str, name: str = "faults-hook") -> None:
    """As an admin: a webhook subscription of the tenant's contact events to `url`."""
    document = {
        "apiVersion": "contactcenter.dev/v1alpha1",
        "kind": "WebhookSubscription",
        "metadata": {"name": name},
        "spec": {
            "tenant": TENANT,
            "endpointRegion": REGION,
            "url": url,
            "secret": "whsec_" + base64.b64encode(b"faults-run-webhook-secret-0123456789").decode(),
            "eventTypes": list(WEBHOOK_EVENT_TYPES),
        },
    }
    store = await ConfigStore.open(run.region.nc.jetstream())
    await store.apply(validate_document(document))
