"""Real pieces for delivery tests: webhook receivers on 127.0.0.1, the integration service, events.

receiver = await Receiver.start(SECRET)            # verifies every request with standardwebhooks
service = await IntegrationProcess.in_process(nats_url, local_mode=True)
await apply_subscription(nc, "acme-crm", receiver.url)
await publish_events(nc, contacts=10, per_contact=20)
await receiver.wait_for(200)
"""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web
from google.protobuf.timestamp_pb2 import Timestamp
from nats.aio.client import Client as NATS
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from ccmesh.configplane.loader import load_file, validate_document
from ccmesh.configplane.store import ConfigStore
from ccmesh.events import EventPublisher
from ccmesh.natsserver import free_port
from ccmesh.service_host import serve
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from integration.__main__ import DEFINITION
from integration.config import IntegrationConfig

REGION = "eu"
AUTH_SECRET = "a" * 32
SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()
ROOT = Path(__file__).resolve().parents[3]
#: Upper bounds against hanging, not timing assertions.
WAIT_SECONDS = 60.0


@dataclass
class Receipt:
    webhook_id: str
    contact_id: str
    index: int
    body: bytes


@dataclass
class Receiver:
    """An aiohttp webhook receiver that verifies signatures and checks per-contact order as it goes."""

    secret: str
    port: int
    #: Awaited with the verified body before answering (e.g. to be slow); returns the HTTP status.
    behaviour: Callable[[dict[str, Any]], Awaitable[int]] | None = None
    receipts: list[Receipt] = field(default_factory=list)
    bad_signatures: int = 0
    #: Receipts whose earlier events (same contact) had not all arrived before: must stay empty.
    order_violations: list[str] = field(default_factory=list)
    completed: int = 0
    _seen: dict[str, set[int]] = field(default_factory=dict)
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    @classmethod
    async def start(
        cls,
        secret: str = SECRET,
        port: int | None = None,
        behaviour: Callable[[dict[str, Any]], Awaitable[int]] | None = None,
    ) -> Receiver:
        receiver = cls(secret, port or free_port(), behaviour)
        await receiver.listen()
        return receiver

    async def listen(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True).start()

    async def close(self) -> None:
        """Stop listening: further deliveries see connection refused."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.Response:
        data = await request.read()
        try:
            body = Webhook(self.secret).verify(data, dict(request.headers))
        except WebhookVerificationError:
            self.bad_signatures += 1
            return web.Response(status=401)
        status = await self.behaviour(body) if self.behaviour is not None else 200
        if status >= 300:
            return web.Response(status=status)
        contact, index = body["contactId"], int(body["id"].rsplit("-", 1)[1])
        seen = self._seen.setdefault(contact, set())
        if not set(range(index)) <= seen:
            self.order_violations.append(
                f"{contact}: event {index} before {sorted(set(range(index)) - seen)[:3]}"
            )
        seen.add(index)
        assert request.headers["webhook-id"] == body["id"]
        self.receipts.append(Receipt(request.headers["webhook-id"], contact, index, data))
        self.completed += 1
        return web.Response(status=204)

    def distinct(self) -> set[str]:
        return {r.webhook_id for r in self.receipts}

    def duplicates_are_identical(self) -> bool:
        bodies: dict[str, set[bytes]] = {}
        for receipt in self.receipts:
            bodies.setdefault(receipt.webhook_id, set()).add(receipt.body)
        # A retry carries the same webhook-id and the same body (only the signature's timestamp may move).
        return all(len(b) == 1 for b in bodies.values())

    async def wait_for(self, count: int, seconds: float = WAIT_SECONDS) -> None:
        async with asyncio.timeout(seconds):
            while True:
                if len(self.distinct()) >= count:
                    return
                await asyncio.sleep(0.02)


def event_id(contact: str, index: int) -> str:
    return f"{contact}-{index:05d}"


def queued_event(contact: str, index: int, tenant: str = "acme") -> events_pb2.Event:
    occurred = Timestamp()
    occurred.GetCurrentTime()
    return events_pb2.Event(
        event_id=event_id(contact, index),
        occurred_at=occurred,
        tenant=common_pb2.TenantRef(tenant_id=tenant),
        region=REGION,
        contact_id=contact,
        source="test",
        schema_version=1,
        contact_queued=events_pb2.ContactQueued(queue="support", priority=index % 3),
    )


async def publish_events(nc: NATS, contacts: int, per_contact: int, prefix: str = "c") -> list[str]:
    """Publish `per_contact` events for each contact (contacts in parallel, each in order); their ids."""
    publisher = EventPublisher(nc.jetstream(), REGION)

    async def one_contact(contact: str) -> None:
        for index in range(per_contact):
            await publisher.publish(queued_event(contact, index))

    names = [f"{prefix}{n:04d}" for n in range(contacts)]
    await asyncio.gather(*(one_contact(c) for c in names))
    return [event_id(c, i) for c in names for i in range(per_contact)]


async def apply_contact_center(nc: NATS) -> None:
    (sourced,) = load_file(ROOT / "examples" / f"{REGION}.yaml")
    await (await ConfigStore.open(nc.jetstream())).apply(sourced.document)


def subscription_document(name: str, url: str, **spec: Any) -> Any:
    return validate_document(
        {
            "apiVersion": "contactcenter.dev/v1alpha1",
            "kind": "WebhookSubscription",
            "metadata": {"name": name},
            "spec": {"tenant": "acme", "endpointRegion": REGION, "url": url, "secret": SECRET, **spec},
        }
    )


async def apply_subscription(nc: NATS, name: str, url: str, **spec: Any) -> None:
    """Store the subscription and wait until the service has created its consumer."""
    await (await ConfigStore.open(nc.jetstream())).apply(subscription_document(name, url, **spec))
    await wait_for_consumer(nc, f"webhook-{name}")


async def wait_for_consumer(nc: NATS, durable: str) -> None:
    js = nc.jetstream()
    async with asyncio.timeout(WAIT_SECONDS):
        while True:
            try:
                await js.consumer_info(f"events-{REGION}", durable)
                return
            except Exception:  # not there yet (or the stream itself is not yet created)
                await asyncio.sleep(0.05)


def service_config(nats_url: str, **overrides: Any) -> IntegrationConfig:
    settings: dict[str, Any] = {
        "region": REGION,
        "nats_url": nats_url,
        "auth_secret": AUTH_SECRET,
        "grpc_port": -1,
        "instance_name": "integration-test",
        "shutdown_grace_seconds": 2.0,
        "local_mode": True,
        "delivery_backoff_base_seconds": 0.05,
        "delivery_backoff_max_seconds": 0.5,
        "breaker_cooldown_seconds": 0.2,
        "breaker_max_cooldown_seconds": 0.5,
        "delivery_lease_seconds": 2.0,
    }
    settings.update(overrides)
    return IntegrationConfig(**settings)


class InProcessService:
    """The integration service run by `serve()`, exactly as in production, as an asyncio task."""

    def __init__(self, config: IntegrationConfig) -> None:
        self._stop = asyncio.Event()
        self.task = asyncio.create_task(serve(DEFINITION, config, self._stop))

    async def wait_ready(self, nc: NATS) -> None:
        async with asyncio.timeout(WAIT_SECONDS):
            while True:
                if self.task.done():
                    self.task.result()
                    raise AssertionError("integration service ended before it was ready")
                try:
                    await nc.request("$SRV.PING.integration", b"", timeout=0.5)
                    return
                except Exception:  # no responders yet
                    await asyncio.sleep(0.05)

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.wait_for(self.task, 30)


class ServiceProcess:
    """`python -m integration` as a child process, configured with CC_ variables, killable."""

    def __init__(self, nats_url: str, **overrides: str) -> None:
        env = dict(os.environ)
        env.update(
            {
                "CC_REGION": REGION,
                "CC_NATS_URL": nats_url,
                "CC_AUTH_SECRET": AUTH_SECRET,
                "CC_GRPC_PORT": "-1",
                "CC_LOCAL_MODE": "true",
                "CC_DELIVERY_BACKOFF_BASE_SECONDS": "0.05",
                "CC_DELIVERY_BACKOFF_MAX_SECONDS": "0.5",
                "CC_BREAKER_COOLDOWN_SECONDS": "0.2",
                "CC_BREAKER_MAX_COOLDOWN_SECONDS": "0.5",
                "CC_LOG_LEVEL": "WARNING",
                # A restarted process is a new lease holder: it waits for the killed one's lease.
                "CC_DELIVERY_LEASE_SECONDS": "2",
                **overrides,
            }
        )
        self.process = subprocess.Popen(
            [sys.executable, "-m", "integration"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )

    async def wait_ready(self) -> None:
        assert self.process.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(self.process.stdout.readline), WAIT_SECONDS)
        assert orjson.loads(line)["ready"] == "integration", line

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def terminate(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def integration_stub(nc: NATS, tenant: str = "acme", role: str = "integration") -> Any:
    from ccmesh.auth import TokenAuthority
    from ccmesh.rpc_client import MeshChannel, mesh_stub
    from contactcenter.integration.v1.integration_pb2_grpc import IntegrationServiceStub

    token = TokenAuthority(AUTH_SECRET).mint(tenant, role, f"test-{role}", 300)
    return mesh_stub(IntegrationServiceStub, MeshChannel(nc, REGION, token=token, default_timeout=10.0))
