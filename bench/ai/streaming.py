"""Streaming latency: a `message_received` event published on the region's stream until its
`ai_insight` event is published back, through a real nats-server and the real ai service
(in this process, as `serve()` runs it in production, inference on its pool).

Measured one message at a time, then under load: `LOAD_IN_FLIGHT` messages published and not
yet answered at any moment, as when many conversations write at once.
"""

from __future__ import annotations

import asyncio
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import nats

from ccmesh import naming
from ccmesh.configplane.loader import load_file
from ccmesh.configplane.models import AiSettings, ContactCenter
from ccmesh.configplane.store import ConfigStore
from ccmesh.events import EventPublisher
from ccmesh.natsserver import NatsServer, NatsServerSpec
from ccmesh.service_host import serve
from contactcenter.ai.v1 import ai_pb2
from contactcenter.ai.v1.ai_pb2_grpc import AiServiceStub
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2

REGION = "eu"
#: Messages awaiting their insight at once in the load phase.
LOAD_IN_FLIGHT = 16
SECRET = "b" * 32
REPO = Path(__file__).resolve().parents[2]


async def _measure(url: str, texts: list[str], training: dict[str, list[str]]) -> dict[str, Any]:
    from ai.__main__ import DEFINITION
    from ai.config import AiConfig
    from ccmesh.auth import TokenAuthority
    from ccmesh.rpc_client import MeshChannel, mesh_stub

    nc = await nats.connect(url)
    js = nc.jetstream()
    (sourced,) = load_file(REPO / "examples/eu.yaml")
    document = sourced.document
    assert isinstance(document, ContactCenter)
    spec = document.spec.model_copy(update={"ai": AiSettings(stream_insights=True)})
    await (await ConfigStore.open(js)).apply(document.model_copy(update={"spec": spec}))
    stop = asyncio.Event()
    config = AiConfig(region=REGION, nats_url=url, auth_secret=SECRET, grpc_port=-1, log_level="WARNING")
    ready = sys.stdout
    sys.stdout = io.StringIO()  # the service's ready line is not part of the report
    service = asyncio.create_task(serve(DEFINITION, config, stop))
    try:
        token = TokenAuthority(SECRET).mint("acme", "admin", "bench", 600)
        ai = mesh_stub(AiServiceStub, MeshChannel(nc, REGION, token=token, default_timeout=120))
        for _ in range(200):
            try:
                await ai.TrainIntents(
                    ai_pb2.TrainIntentsRequest(
                        tenant_id="acme",
                        intents=[ai_pb2.IntentExamples(intent=k, examples=v) for k, v in training.items()],
                    )
                )
                break
            except Exception:
                await asyncio.sleep(0.1)
        arrived: dict[str, float] = {}
        waiters: dict[str, asyncio.Future[None]] = {}

        async def on_insight(msg: Any) -> None:
            message_id = events_pb2.Event.FromString(msg.data).ai_insight.message_id
            arrived[message_id] = time.perf_counter()
            future = waiters.get(message_id)
            if future is not None and not future.done():
                future.set_result(None)

        await nc.subscribe(naming.event_subject(REGION, "acme", "ai_insight", "*"), cb=on_insight)
        publisher = EventPublisher(js, REGION)

        async def one(phase: str, index: int, text: str) -> float:
            message_id = f"bench-{phase}-{index}"
            waiters[message_id] = asyncio.get_running_loop().create_future()
            sent = time.perf_counter()
            await publisher.publish(
                events_pb2.Event(
                    event_id=f"evt-{phase}-{index}",
                    tenant=common_pb2.TenantRef(tenant_id="acme"),
                    region=REGION,
                    contact_id=f"c-{phase}-{index % 50}",
                    message_received=events_pb2.MessageReceived(message_id=message_id, text=text),
                )
            )
            await asyncio.wait_for(waiters[message_id], 60)
            return (arrived[message_id] - sent) * 1000

        latencies = [await one("seq", index, text) for index, text in enumerate(texts)]
        slots = asyncio.Semaphore(LOAD_IN_FLIGHT)

        async def loaded(index: int, text: str) -> float:
            async with slots:
                return await one("load", index, text)

        begun = time.perf_counter()
        under_load = await asyncio.gather(*(loaded(index, text) for index, text in enumerate(texts)))
        load_seconds = time.perf_counter() - begun
        return {
            "messages": len(latencies),
            "p50_ms": round(statistics.median(latencies), 3),
            "p99_ms": _p99(latencies),
            "under_load": {
                "in_flight": LOAD_IN_FLIGHT,
                "p50_ms": round(statistics.median(under_load), 3),
                "p99_ms": _p99(under_load),
                "messages_per_second": round(len(under_load) / load_seconds),
            },
        }
    finally:
        stop.set()
        await service
        sys.stdout = ready
        await nc.drain()


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return round(ordered[max(0, int(len(ordered) * 0.99) - 1)], 3)


def measure_streaming(texts: list[str], training: dict[str, list[str]]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as scratch:
        server = NatsServer(NatsServerSpec(name="bench-ai", store_dir=Path(scratch) / "store"))
        server.start()
        try:
            server.wait_healthy()
            return asyncio.run(_measure(server.url, texts, training))
        finally:
            server.stop()
