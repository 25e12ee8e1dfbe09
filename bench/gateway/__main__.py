"""`make bench-gateway`: inbound messages per second through the gateway's real webhook into the
stream, and webhook-to-offer latency with the full mesh running, beside a plain HTTP echo endpoint
measured in the same run (the ceiling).

The platform starts as `make run` starts it (embedded nats-server, the five services as their own
processes, the example config and workspace), plus a bench `ChannelEndpoint` on the generic signed
provider API (`POST /v1/generic/bench-generic/messages`) with a rate limit high enough not to
throttle, and bench agents in routing whose offers a subscriber accepts and completes at once.

- `echo_per_second`: the same client (aiohttp, CONCURRENCY requests in flight, each body signed
  exactly like the gateway's) against an aiohttp endpoint in its own process that parses the JSON
  and answers: what HTTP alone gives here.
- `inbound_per_second`: signed webhook requests answered 201 by the gateway: each one verified,
  the sender resolved by the identity service, the contact opened or continued in KV, the events
  on the region's JetStream stream (the 201 is sent after JetStream acknowledged them), new
  contacts handed to the queue. SENDERS customers write MESSAGES_PER_SENDER messages each.
- `offer_latency_p50_ms` / `p99`: new customers writing at OFFER_RATE per second; from just before
  the webhook request is sent until the ContactOffered event for its contact is seen on NATS.
- `echo_ratio` = inbound / echo: the share of the plain-HTTP ceiling the gateway keeps.
- `voice_offer_latency_p50_ms` / `p99`: new callers at OFFER_RATE per second on the example voice
  endpoint (`acme-uk-voice`, queue-only): from just before Twilio's signed voice webhook is sent
  until the ContactOffered event for the call's contact is seen (the call's contact is known from
  its MessageReceived, provider id `<CallSid>:call`). The answer is the greeting and `<Enqueue>`.

Best of ROUNDS alternating rounds for the throughputs: these machines are noisy.

Metrics export: a second platform runs beside the first, its processes serving `/metrics` while a
Prometheus scrapes every one of them every 5 s (`bench/metrics_export.py`, as `ccctl up
--observability` does); the gateway rounds alternate between the two, so the machine's load
falls on both alike. `metrics_export_throughput_ratio` = best inbound rate with export on / best
with it off (goal: at most 5% loss); `metrics_export_paired_median_ratio` = the median of the
round-by-round ratios. `--quick` runs smaller phases.

What a NEW contact costs the gateway (NATS operations and CPU per contact, every request from a
customer never seen before): `python -m bench.gateway.new_contacts`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import nats
import orjson
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from bench.metrics_export import Target, scraped
from bench.report import Goal, percentile, print_report
from ccctl.launcher import (
    LaunchPlan,
    Platform,
    apply_examples,
    seed_examples,
    start_nats,
    start_provider_sandbox,
    start_services,
    stop,
    wait_until_serving,
)
from ccmesh.auth import TokenAuthority
from ccmesh.configplane.loader import load_file, validate_document
from ccmesh.configplane.models import ChannelEndpoint
from ccmesh.configplane.store import ConfigStore
from ccmesh.natsserver import free_port
from ccmesh.rpc_client import MeshChannel, mesh_stub
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from contactcenter.routing.v1 import routing_pb2, routing_pb2_grpc
from gateway.domain.generic_signature import generic_signature
from gateway.domain.twilio_signature import twilio_signature

ROOT = Path(__file__).resolve().parents[2]
REGION = "eu"
TENANT = "acme"
ENDPOINT = "bench-generic"
SIGNING_SECRET = "bench-signing-secret-" + "s" * 16
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "32"))
SENDERS = int(os.environ.get("BENCH_SENDERS", "300"))
MESSAGES_PER_SENDER = int(os.environ.get("BENCH_MESSAGES_PER_SENDER", "4"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
AGENTS = 20
OFFER_CONTACTS = int(os.environ.get("BENCH_OFFER_CONTACTS", "200"))
OFFER_RATE = 20.0
VOICE_ENDPOINT = "acme-uk-voice"
VOICE_CONTACTS = int(os.environ.get("BENCH_VOICE_CONTACTS", "100"))
#: `--quick`: the same phases, smaller.
QUICK_SIZES = {"SENDERS": 100, "MESSAGES_PER_SENDER": 3, "OFFER_CONTACTS": 60, "VOICE_CONTACTS": 30}

ENDPOINT_DOCUMENT = {
    "apiVersion": "contactcenter.dev/v1alpha1",
    "kind": "ChannelEndpoint",
    "metadata": {"name": ENDPOINT},
    "spec": {
        "region": REGION,
        "tenant": TENANT,
        "brand": "acme-retail",
        "channel": "api",
        "provider": "generic",
        "address": "bench",
        "queue": "support",
        "generic": {"signingSecret": SIGNING_SECRET},
        "rateLimit": {"perSecond": 100000, "burst": 100000},
    },
}


def signed(body: bytes) -> dict[str, str]:
    timestamp = str(int(time.time()))
    return {
        "Content-Type": "application/json",
        "X-CC-Timestamp": timestamp,
        "X-CC-Signature": generic_signature(SIGNING_SECRET, timestamp, body),
    }


def message(sender: str, text: str) -> bytes:
    return orjson.dumps(
        {"from": {"kind": "phone", "value": sender}, "text": text, "providerMessageId": uuid.uuid4().hex}
    )


async def load(session: aiohttp.ClientSession, url: str, bodies: list[bytes]) -> tuple[float, dict[int, int]]:
    """Requests per second for `bodies` with CONCURRENCY in flight, and the count per status."""
    statuses: dict[int, int] = {}
    queue = list(reversed(bodies))

    async def worker() -> None:
        while queue:
            body = queue.pop()
            async with session.post(url, data=body, headers=signed(body)) as response:
                await response.read()
                statuses[response.status] = statuses.get(response.status, 0) + 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return len(bodies) / (time.perf_counter() - started), statuses


def conversation_bodies(round_index: int) -> list[bytes]:
    # Senders interleaved, so a contact's messages are not back to back (as in a real inbox).
    return [
        message(f"+4930{round_index:02d}{sender:07d}", f"message {turn} from customer {sender}")
        for turn in range(MESSAGES_PER_SENDER)
        for sender in range(SENDERS)
    ]


async def start_platform(data_dir: Path, metrics: bool = False) -> Platform:
    plan = LaunchPlan(
        metrics=metrics,
        data_dir=data_dir,
        regions=[REGION],
        examples_dir=ROOT / "examples",
        nats_port=free_port(),
        nats_monitor_port=free_port(),
        grpc_base_port=0,
        gateway_http_port=free_port(),
        ready_timeout=90,
    )
    (plan.data_dir / "logs").mkdir(parents=True)
    (plan.data_dir / "auth-secret").write_text("bench-gateway-secret-" + "x" * 32)
    platform = Platform(plan)
    try:
        await asyncio.to_thread(start_nats, platform)
        # Replies and call redirects go to a sandbox of the bench's own, never to a running `make run`.
        await asyncio.to_thread(start_provider_sandbox, platform)
        await apply_examples(platform)
        nc = await nats.connect(platform.nats_url)
        try:
            store = await ConfigStore.open(nc.jetstream())
            await store.apply(validate_document(ENDPOINT_DOCUMENT))
        finally:
            await nc.close()
        start_services(platform, secret(platform))
        await wait_until_serving(platform)
        await seed_examples(platform, secret(platform))
    except BaseException:
        # A platform that did not come up leaves nothing running behind it.
        await asyncio.to_thread(stop, platform)
        raise
    return platform


def secret(platform: Platform) -> str:
    return (platform.plan.data_dir / "auth-secret").read_text().strip()


class OfferTaker:
    """Bench agents in routing; every offer is accepted and completed at once, so slots stay free."""

    def __init__(self, routing: routing_pb2_grpc.RoutingServiceStub) -> None:
        self.routing = routing
        self.offered_at: dict[str, float] = {}
        self.offer_seen = asyncio.Event()
        self.failures = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def staff(self) -> None:
        for index in range(AGENTS):
            agent_id = f"bench-agent-{index:02d}"
            await self.routing.UpsertAgent(
                routing_pb2.UpsertAgentRequest(
                    tenant_id=TENANT,
                    agent=routing_pb2.AgentDefinition(
                        agent_id=agent_id,
                        brands=["acme-retail"],
                        languages=["en"],
                        home_region=REGION,
                        capacity=[
                            routing_pb2.ChannelCapacity(channel=common_pb2.CHANNEL_KIND_WEBCHAT, capacity=20),
                            routing_pb2.ChannelCapacity(channel=common_pb2.CHANNEL_KIND_SMS, capacity=20),
                            # The generic provider API's contacts use the agent's api capacity.
                            routing_pb2.ChannelCapacity(channel=common_pb2.CHANNEL_KIND_API, capacity=20),
                            # One call at a time is all a person can take (routing refuses more).
                            routing_pb2.ChannelCapacity(channel=common_pb2.CHANNEL_KIND_VOICE, capacity=1),
                        ],
                    ),
                )
            )
            await self.routing.SetAgentState(
                routing_pb2.SetAgentStateRequest(
                    tenant_id=TENANT, agent_id=agent_id, state=routing_pb2.AGENT_STATE_AVAILABLE
                )
            )

    async def heartbeats(self) -> None:
        while True:
            for index in range(AGENTS):
                await self.routing.AgentHeartbeat(
                    routing_pb2.AgentHeartbeatRequest(tenant_id=TENANT, agent_id=f"bench-agent-{index:02d}")
                )
            await asyncio.sleep(2.0)

    async def on_event(self, msg: Msg) -> None:
        seen = time.perf_counter()
        event = events_pb2.Event.FromString(msg.data)
        offer = event.contact_offered
        if not offer.agent_id.startswith("bench-agent-"):
            return
        self.offered_at.setdefault(event.contact_id, seen)
        self.offer_seen.set()
        task = asyncio.create_task(self._take(offer.agent_id, offer.reservation_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _take(self, agent_id: str, reservation_id: str) -> None:
        try:
            for answer in (routing_pb2.OFFER_ANSWER_ACCEPT, routing_pb2.OFFER_ANSWER_COMPLETE):
                await self.routing.AnswerOffer(
                    routing_pb2.AnswerOfferRequest(
                        tenant_id=TENANT, agent_id=agent_id, reservation_id=reservation_id, answer=answer
                    )
                )
        except Exception:  # counted and reported; the bench goes on
            self.failures += 1

    async def wait_queue_empty(self, timeout: float = 120.0) -> int:
        deadline = time.monotonic() + timeout
        depth = -1
        while time.monotonic() < deadline:
            stats = await self.routing.GetQueueStats(
                routing_pb2.GetQueueStatsRequest(tenant_id=TENANT, queue="support")
            )
            depth = stats.depth
            if depth == 0 and not self._tasks:
                return 0
            await asyncio.sleep(0.5)
        return depth


async def measure_offer_latency(
    session: aiohttp.ClientSession, url: str, taker: OfferTaker
) -> tuple[list[float], int]:
    sent_at: dict[str, float] = {}

    async def one(index: int) -> None:
        body = message(f"+4989{index:08d}", "I need help with my order")
        started = time.perf_counter()
        async with session.post(url, data=body, headers=signed(body)) as response:
            answer = orjson.loads(await response.read())
        if response.status == 201 and answer.get("contactCreated"):
            sent_at[answer["contactId"]] = started

    pending = []
    for index in range(OFFER_CONTACTS):
        pending.append(asyncio.create_task(one(index)))
        await asyncio.sleep(1.0 / OFFER_RATE)
    await asyncio.gather(*pending)
    deadline = time.monotonic() + 30
    while any(c not in taker.offered_at for c in sent_at) and time.monotonic() < deadline:
        taker.offer_seen.clear()
        try:
            await asyncio.wait_for(taker.offer_seen.wait(), timeout=max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            break
    latencies = [(taker.offered_at[c] - t) * 1000 for c, t in sent_at.items() if c in taker.offered_at]
    return latencies, len(sent_at)


def voice_endpoint() -> ChannelEndpoint:
    for sourced in load_file(ROOT / "examples" / "channels" / f"{REGION}.yaml"):
        document = sourced.document
        if isinstance(document, ChannelEndpoint) and document.metadata.name == VOICE_ENDPOINT:
            return document
    raise SystemExit(f"bench: examples/channels/{REGION}.yaml has no {VOICE_ENDPOINT}")


class CallContacts:
    """The contact each bench call opened: MessageReceived with provider id `<CallSid>:call`."""

    def __init__(self) -> None:
        self.of_call: dict[str, str] = {}

    async def on_event(self, msg: Msg) -> None:
        received = events_pb2.Event.FromString(msg.data)
        provider_id = received.message_received.provider_message_id
        if provider_id.endswith(":call"):
            self.of_call[provider_id.removesuffix(":call")] = received.contact_id


async def measure_voice_offer_latency(
    session: aiohttp.ClientSession, base: str, taker: OfferTaker, calls: CallContacts
) -> tuple[list[float], int, int]:
    """Latencies (ms), calls answered with an Enqueue, and calls made."""
    endpoint = voice_endpoint()
    assert endpoint.spec.twilio is not None
    url = f"{base}/v1/twilio/{VOICE_ENDPOINT}/voice"
    sent_at: dict[str, float] = {}
    enqueued = 0

    async def one(index: int) -> None:
        nonlocal enqueued
        call_sid = "CA" + uuid.uuid4().hex
        form = {
            "CallSid": call_sid,
            "AccountSid": endpoint.spec.twilio.account_sid,  # type: ignore[union-attr]
            "From": f"+4475{index:08d}",
            "To": endpoint.spec.address,
            "Direction": "inbound",
            "CallStatus": "ringing",
        }
        headers = {"X-Twilio-Signature": twilio_signature(url, form.items(), endpoint.spec.twilio.auth_token)}  # type: ignore[union-attr]
        started = time.perf_counter()
        async with session.post(url, data=form, headers=headers) as response:
            twiml = await response.text()
        if response.status == 200 and "<Enqueue" in twiml:
            enqueued += 1
            sent_at[call_sid] = started

    pending = []
    for index in range(VOICE_CONTACTS):
        pending.append(asyncio.create_task(one(index)))
        await asyncio.sleep(1.0 / OFFER_RATE)
    await asyncio.gather(*pending)

    def offered(call_sid: str) -> bool:
        return calls.of_call.get(call_sid, "") in taker.offered_at

    deadline = time.monotonic() + 30
    while not all(offered(c) for c in sent_at) and time.monotonic() < deadline:
        taker.offer_seen.clear()
        try:
            await asyncio.wait_for(taker.offer_seen.wait(), timeout=0.5)
        except TimeoutError:
            continue
    latencies = [(taker.offered_at[calls.of_call[c]] - t) * 1000 for c, t in sent_at.items() if offered(c)]
    return latencies, enqueued, VOICE_CONTACTS


@dataclass
class BenchPlatform:
    """A started platform with its bench agents taking every offer, ready for load."""

    platform: Platform
    nc: NatsClient
    taker: OfferTaker
    calls: CallContacts
    heartbeat: asyncio.Task[None]

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.platform.plan.gateway_http_port}"

    @property
    def gateway_url(self) -> str:
        return f"{self.base}/v1/generic/{ENDPOINT}/messages"


@contextlib.asynccontextmanager
async def bench_platform(data_dir: Path, metrics: bool) -> AsyncIterator[BenchPlatform]:
    platform = await start_platform(data_dir, metrics=metrics)
    nc = await nats.connect(platform.nats_url)
    heartbeat: asyncio.Task[None] | None = None
    try:
        token = TokenAuthority(secret(platform)).mint(TENANT, "admin", "bench-gateway", 3600)
        mesh = MeshChannel(nc, REGION, token=token, default_timeout=10.0)
        taker = OfferTaker(mesh_stub(routing_pb2_grpc.RoutingServiceStub, mesh))
        await taker.staff()
        heartbeat = asyncio.create_task(taker.heartbeats())
        await nc.subscribe(f"ccevt.{REGION}.{TENANT}.contact_offered.*", cb=taker.on_event)
        calls = CallContacts()
        await nc.subscribe(f"ccevt.{REGION}.{TENANT}.message_received.*", cb=calls.on_event)
        yield BenchPlatform(platform, nc, taker, calls, heartbeat)
    finally:
        if heartbeat is not None:
            heartbeat.cancel()
        await nc.close()
        await asyncio.to_thread(stop, platform)


@dataclass
class InboundRounds:
    """One platform's gateway rounds (and the echo rounds measured just before each)."""

    echo_rates: list[float] = field(default_factory=list)
    inbound_rates: list[float] = field(default_factory=list)
    sent: int = 0
    accepted: int = 0
    other_statuses: dict[int, int] = field(default_factory=dict)

    async def one(self, session: aiohttp.ClientSession, gateway_url: str, echo_url: str, index: int) -> None:
        bodies = conversation_bodies(index)
        rate, _ = await load(session, echo_url, bodies)
        self.echo_rates.append(rate)
        rate, statuses = await load(session, gateway_url, bodies)
        self.inbound_rates.append(rate)
        self.sent += len(bodies)
        self.accepted += statuses.get(201, 0)
        for status, count in statuses.items():
            if status != 201:
                self.other_statuses[status] = self.other_statuses.get(status, 0) + count


async def wait_for_echo(session: aiohttp.ClientSession, echo_url: str) -> None:
    for _ in range(100):
        try:
            async with session.post(echo_url, data=b"{}") as response:
                await response.read()
            return
        except aiohttp.ClientConnectionError:
            await asyncio.sleep(0.1)


async def main(quick: bool) -> None:
    if quick:
        # Module-level sizes, read by the phases; --quick trades precision for a few minutes.
        globals().update(QUICK_SIZES)
    with tempfile.TemporaryDirectory(prefix="bench-gateway-") as tmp:
        echo_port = free_port()
        echo = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.gateway.echo",
            str(echo_port),
            cwd=ROOT,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        echo_url = f"http://127.0.0.1:{echo_port}/echo"
        rounds, exported = InboundRounds(), InboundRounds()
        try:
            # Two platforms side by side, the second serving /metrics to a scraper; their rounds
            # alternate, so a change in the machine's load falls on both alike.
            async with (
                bench_platform(Path(tmp) / "data", metrics=False) as plain,
                bench_platform(Path(tmp) / "data-metrics", metrics=True) as measured,
            ):
                targets = [Target(s.name, s.metrics_port) for s in measured.platform.services]
                connector = aiohttp.TCPConnector(limit=CONCURRENCY)
                async with aiohttp.ClientSession(connector=connector) as session:
                    await wait_for_echo(session, echo_url)
                    for index, bench in enumerate((plain, measured)):
                        # Warm-up: connections, code paths, the first JetStream publishes.
                        warm = [message(f"+4931{index:02d}{n:05d}", "warm up") for n in range(100)]
                        await load(session, bench.gateway_url, warm)
                    await load(session, echo_url, [message(f"+4931{n:07d}", "warm up") for n in range(100)])
                    with scraped(targets, Path(tmp) / "prometheus") as scraper:
                        for round_index in range(ROUNDS):
                            await rounds.one(session, plain.gateway_url, echo_url, round_index)
                            await exported.one(session, measured.gateway_url, echo_url, ROUNDS + round_index)
                    backlog = await plain.taker.wait_queue_empty()
                    await measured.taker.wait_queue_empty()
                    latencies, new_contacts = await measure_offer_latency(
                        session, plain.gateway_url, plain.taker
                    )
                    voice_latencies, voice_enqueued, voice_calls = await measure_voice_offer_latency(
                        session, plain.base, plain.taker, plain.calls
                    )
                answer_failures = plain.taker.failures + measured.taker.failures
        finally:
            echo.terminate()
            await asyncio.wait_for(echo.wait(), timeout=10)

    echo_rates, inbound_rates = rounds.echo_rates, rounds.inbound_rates
    sent, accepted, other_statuses = rounds.sent, rounds.accepted, rounds.other_statuses
    export_ratio = max(exported.inbound_rates) / max(inbound_rates)
    # Round by round (each pair measured back to back), the median of on/off: less sensitive
    # to one lucky round than the ratio of the bests.
    paired = statistics.median(
        on / off for on, off in zip(exported.inbound_rates, inbound_rates, strict=True)
    )
    print(
        f"metrics export off {max(inbound_rates):.0f}/s, on {max(exported.inbound_rates):.0f}/s "
        f"(scraped by {scraper} every 5 s): ratio {export_ratio:.3f}, paired median {paired:.3f}"
    )
    echo_best, inbound_best = max(echo_rates), max(inbound_rates)
    p50 = statistics.median(latencies) if latencies else float("nan")
    p99 = percentile(latencies, 0.99) if latencies else float("nan")
    results = {
        "echo_per_second": round(echo_best, 1),
        "inbound_per_second": round(inbound_best, 1),
        "echo_ratio": round(inbound_best / echo_best, 4),
        "rounds_echo_per_second": [round(r, 1) for r in echo_rates],
        "rounds_inbound_per_second": [round(r, 1) for r in inbound_rates],
        "messages_sent": sent,
        "messages_accepted": accepted,
        "other_statuses": {str(k): v for k, v in other_statuses.items()},
        "queue_depth_before_latency_phase": backlog,
        "offer_latency_p50_ms": round(p50, 2),
        "offer_latency_p99_ms": round(p99, 2),
        "offer_contacts": new_contacts,
        "offers_seen": len(latencies),
        "voice_offer_latency_p50_ms": round(statistics.median(voice_latencies), 2)
        if voice_latencies
        else float("nan"),
        "voice_offer_latency_p99_ms": round(percentile(voice_latencies, 0.99), 2)
        if voice_latencies
        else float("nan"),
        "voice_calls": voice_calls,
        "voice_calls_enqueued": voice_enqueued,
        "voice_offers_seen": len(voice_latencies),
        "offer_answer_failures": answer_failures,
        "metrics_export_on_inbound_per_second": round(max(exported.inbound_rates), 1),
        "metrics_export_on_rounds_inbound_per_second": [round(r, 1) for r in exported.inbound_rates],
        "metrics_export_on_rounds_echo_per_second": [round(r, 1) for r in exported.echo_rates],
        "metrics_export_on_messages_accepted": exported.accepted,
        "metrics_export_scraper": scraper,
        "metrics_export_scrape_seconds": 5,
        "metrics_export_throughput_ratio": round(export_ratio, 4),
        "metrics_export_paired_median_ratio": round(paired, 4),
        "quick": quick,
        "concurrency": CONCURRENCY,
        "senders": SENDERS,
        "messages_per_sender": MESSAGES_PER_SENDER,
    }
    # No throughput figure is set for this benchmark; these goals hold what must never fail:
    # every message accepted, every new contact offered to an agent.
    goals = [
        Goal("accepted_share", ">=", 1.0, accepted / sent if sent else 0.0),
        Goal("offered_share", ">=", 1.0, len(latencies) / new_contacts if new_contacts else 0.0),
        # Every caller hears the greeting and waits in the queue, and is offered to an agent.
        Goal("voice_enqueued_share", ">=", 1.0, voice_enqueued / voice_calls if voice_calls else 0.0),
        Goal("voice_offered_share", ">=", 1.0, len(voice_latencies) / voice_calls if voice_calls else 0.0),
        # Serving /metrics to a Prometheus scraping every 5 s costs at most 5% of inbound throughput.
        Goal("metrics_export_throughput_ratio", ">=", 0.95, export_ratio),
        Goal(
            "metrics_export_accepted_share",
            ">=",
            1.0,
            exported.accepted / exported.sent if exported.sent else 0.0,
        ),
    ]
    print_report("gateway", results, goals)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"smaller phases: {QUICK_SIZES}")
    asyncio.run(main(parser.parse_args().quick))
