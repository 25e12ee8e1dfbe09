"""`make bench-integration`: webhook deliveries per second and event-to-delivery latency, beside raw
JetStream consume throughput measured in the same run (the ceiling).

One nats-server, the integration service as its own process (`python -m integration`, tracing off),
and a local aiohttp receiver that verifies every signature with `standardwebhooks`.

- `raw_consume_per_second`: a durable pull consumer fetching batches of 256 and acking each message,
  over a backlog of N events: what JetStream alone gives one consumer here.
- `backlog_deliveries_per_second`: N events already on the stream when the subscription is enabled;
  time until every one has been delivered and acknowledged by the receiver (20 contacts in parallel).
- `latency_p50_ms` / `latency_p99_ms`: events published at a steady rate to an enabled subscription;
  from the event's `occurred_at` (set just before publishing) to its receipt.
"""

from __future__ import annotations

import asyncio
import base64
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nats
import orjson
from aiohttp import web
from google.protobuf.timestamp_pb2 import Timestamp
from nats.aio.client import Client as NATS
from nats.js.api import AckPolicy, ConsumerConfig
from standardwebhooks.webhooks import Webhook

from bench.report import Goal, print_report
from ccmesh import naming
from ccmesh.configplane.loader import load_file, validate_document
from ccmesh.configplane.store import ConfigStore
from ccmesh.envelope import new_event
from ccmesh.events import EventPublisher, StreamSettings, ensure_region_streams
from ccmesh.natsserver import NatsServer, NatsServerSpec, free_port
from contactcenter.events.v1 import events_pb2

REGION = "eu"
ROOT = Path(__file__).resolve().parents[2]
SECRET = "whsec_" + base64.b64encode(b"b" * 32).decode()
BACKLOG = int(os.environ.get("BENCH_EVENTS", "10000"))
CONTACTS = 20
STEADY_RATE = 500
STEADY_EVENTS = 2000


def event(contact: str, index: int, prefix: str) -> events_pb2.Event:
    return new_event(
        events_pb2.ContactQueued(queue="support"),
        tenant_id="acme",
        region=REGION,
        source="bench",
        contact_id=contact,
        event_id=f"{prefix}{contact}-{index:06d}",
    )


async def publish_backlog(publisher: EventPublisher, prefix: str, count: int) -> None:
    per_contact = count // CONTACTS

    async def one(contact: str) -> None:
        for index in range(per_contact):
            await publisher.publish(event(contact, index, prefix))

    await asyncio.gather(*(one(f"c{n:03d}") for n in range(CONTACTS)))


async def raw_consume(nc: NATS, count: int) -> float:
    js = nc.jetstream()
    await publish_backlog(EventPublisher(js, REGION), "raw", count)
    subscription = await js.pull_subscribe(
        f"{naming.EVENT_PREFIX}.{REGION}.>",
        durable="bench-raw",
        stream=naming.events_stream(REGION).name,
        config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT),
    )
    started = time.perf_counter()
    taken = 0
    while taken < count:
        for message in await subscription.fetch(256, timeout=5):
            events_pb2.Event.FromString(message.data)
            await message.ack()
            taken += 1
    elapsed = time.perf_counter() - started
    await subscription.unsubscribe()
    await js.delete_consumer(naming.events_stream(REGION).name, "bench-raw")
    return count / elapsed


class Receiver:
    def __init__(self) -> None:
        self.port = free_port()
        self.webhook = Webhook(SECRET)
        self.received: dict[str, float] = {}
        self.latencies: list[float] = []
        self.runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def handle(self, request: web.Request) -> web.Response:
        data = await request.read()
        body = self.webhook.verify(data, dict(request.headers))
        now = time.time()
        if body["id"] not in self.received:
            self.received[body["id"]] = now
            occurred = Timestamp()
            occurred.FromJsonString(body["timestamp"])
            self.latencies.append(now - occurred.ToNanoseconds() / 1e9)
        return web.Response(status=204)

    async def wait_for(self, count: int, timeout: float = 300.0) -> None:
        async with asyncio.timeout(timeout):
            while True:
                if len(self.received) >= count:
                    return
                await asyncio.sleep(0.01)


async def apply_subscription(store: ConfigStore, name: str, url: str, enabled: bool) -> None:
    await store.apply(
        validate_document(
            {
                "apiVersion": "contactcenter.dev/v1alpha1",
                "kind": "WebhookSubscription",
                "metadata": {"name": name},
                "spec": {
                    "tenant": "acme",
                    "endpointRegion": REGION,
                    "url": url,
                    "secret": SECRET,
                    "enabled": enabled,
                },
            }
        )
    )


def start_service(url: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update(
        {
            "OTEL_SDK_DISABLED": "true",
            "CC_REGION": REGION,
            "CC_NATS_URL": url,
            "CC_AUTH_SECRET": "x" * 32,
            "CC_GRPC_PORT": "-1",
            "CC_LOCAL_MODE": "true",
            "CC_LOG_LEVEL": "WARNING",
        }
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "integration"], env=env, stdout=subprocess.PIPE, cwd=ROOT
    )
    assert process.stdout is not None
    orjson.loads(process.stdout.readline())  # the ready line
    return process


async def run(url: str) -> dict[str, float]:
    nc = await nats.connect(url)
    js = nc.jetstream()
    await ensure_region_streams(js, REGION, StreamSettings())
    ceiling = await raw_consume(nc, BACKLOG)
    store = await ConfigStore.open(js)
    (sourced,) = load_file(ROOT / "examples" / f"{REGION}.yaml")
    await store.apply(sourced.document)
    receiver = Receiver()
    await receiver.start()
    service = start_service(url)
    try:
        hook = f"http://127.0.0.1:{receiver.port}/hook"
        publisher = EventPublisher(js, REGION)
        # Backlog: published while the subscription is paused, then delivered at full speed.
        await apply_subscription(store, "bench-backlog", hook, enabled=False)
        await publish_backlog(publisher, "bl", BACKLOG)
        started = time.perf_counter()
        await apply_subscription(store, "bench-backlog", hook, enabled=True)
        await receiver.wait_for(BACKLOG)
        backlog_rate = BACKLOG / (time.perf_counter() - started)
        await apply_subscription(store, "bench-backlog", hook, enabled=False)

        receiver.received.clear()
        receiver.latencies.clear()
        await apply_subscription(store, "bench-steady", hook, enabled=True)
        await asyncio.sleep(1.0)  # the service has created the consumer
        interval = 1.0 / STEADY_RATE
        next_at = time.perf_counter()
        for index in range(STEADY_EVENTS):
            await publisher.publish(event(f"s{index % CONTACTS:03d}", index, "st"))
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
        await receiver.wait_for(STEADY_EVENTS)
        latencies = sorted(receiver.latencies)
    finally:
        service.terminate()
        service.wait(20)
        await nc.close()
    return {
        "events": BACKLOG,
        "raw_consume_per_second": round(ceiling, 1),
        "backlog_deliveries_per_second": round(backlog_rate, 1),
        "delivery_to_ceiling_ratio": round(backlog_rate / ceiling, 4),
        "steady_rate_per_second": STEADY_RATE,
        "latency_p50_ms": round(statistics.median(latencies) * 1000, 2),
        "latency_p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
    }


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        server = NatsServer(NatsServerSpec(name="bench", store_dir=Path(scratch) / "store"))
        server.start()
        try:
            server.wait_healthy()
            results = asyncio.run(run(server.url))
        finally:
            server.stop()
    r = results
    print(
        f"raw consume {r['raw_consume_per_second']:.0f}/s | "
        f"deliveries {r['backlog_deliveries_per_second']:.0f}/s "
        f"(ratio {r['delivery_to_ceiling_ratio']:.3f}) | latency at {STEADY_RATE}/s "
        f"p50 {r['latency_p50_ms']:.1f} ms, p99 {r['latency_p99_ms']:.1f} ms"
    )
    print_report(
        "integration",
        results,
        [
            Goal("backlog_deliveries_per_second", ">=", 1000, results["backlog_deliveries_per_second"]),
            Goal("delivery_to_ceiling_ratio", ">=", 0.05, results["delivery_to_ceiling_ratio"]),
            Goal("latency_p99_ms", "<=", 250, results["latency_p99_ms"]),
        ],
    )


if __name__ == "__main__":
    main()
