"""The platform as a user meets it, for end-to-end tests.

`RunningRegion` is what `ccctl up` starts (nats-server, the example configuration, every service
as its own process, the example workspace), on free ports and a temporary data directory, and
the ways its users reach it: signed provider webhooks, the web chat socket, the agent workspace
socket, tenant tokens, the mesh's gRPC stubs and the region's event stream.

    async def test_something(e2e_region: RunningRegion) -> None:
        async with e2e_region.http() as http:
            alice = await e2e_region.agent(http, "alice")
            ...

`e2e_region` (see conftest.py) is shared by the tests of one module; use customers (phone
numbers, visitor ids) of your own in each test. `start_region(...)` starts one for a single test
that needs its own configuration (regions, examples folder, replicas).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

import aiohttp
import nats
import orjson
from nats.aio.client import Client as NATS

from ccctl.discovery_client import PLATFORM_SERVICES
from ccctl.launcher import (
    LaunchPlan,
    Platform,
    _start_service,
    auth_secret,
    bring_up,
    stop,
    wait_until_serving,
)
from ccmesh import naming, stream_read
from ccmesh.auth import TokenAuthority
from ccmesh.configplane.channels import ChannelEndpoint
from ccmesh.configplane.loader import load_file
from ccmesh.natsserver import free_port
from ccmesh.rpc_client import MeshChannel, mesh_stub
from contactcenter.events.v1 import events_pb2
from gateway.domain.generic_signature import generic_signature
from gateway.domain.twilio_signature import twilio_signature

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
#: Upper bounds against hanging, never timing assertions.
START_SECONDS = 120.0
WAIT_SECONDS = 20.0

_T = TypeVar("_T")


async def eventually(probe: Callable[[], Awaitable[_T | None]], seconds: float = WAIT_SECONDS) -> _T:
    """Poll `probe` until it returns something other than None (or fail after `seconds`)."""
    deadline = time.monotonic() + seconds
    while True:
        found = await probe()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"nothing after {seconds:.0f}s from {probe!r}")
        await asyncio.sleep(0.1)


@dataclass
class WsClient:
    """One WebSocket client (chat customer or agent); `expect` skips pushes of other types."""

    ws: aiohttp.ClientWebSocketResponse
    seen: list[dict[str, Any]] = field(default_factory=list)

    async def send(self, **message: Any) -> None:
        await self.ws.send_str(orjson.dumps(message).decode())

    async def receive(self, seconds: float = WAIT_SECONDS) -> dict[str, Any]:
        async with asyncio.timeout(seconds):
            frame = await self.ws.receive()
        if frame.type != aiohttp.WSMsgType.TEXT:
            raise AssertionError(f"expected a text frame, got {frame.type!r} {frame.data!r} {frame.extra!r}")
        message: dict[str, Any] = orjson.loads(frame.data)
        self.seen.append(message)
        return message

    async def expect(self, kind: str, seconds: float = WAIT_SECONDS, **matching: Any) -> dict[str, Any]:
        """The next push of `kind` whose fields equal `matching` (earlier ones stay in `seen`)."""
        for message in self.seen:
            if message.get("_taken") is None and _matches(message, kind, matching):
                message["_taken"] = True
                return message
        deadline = time.monotonic() + seconds
        while True:
            message = await self.receive(max(0.1, deadline - time.monotonic()))
            if _matches(message, kind, matching):
                message["_taken"] = True
                return message
            # The request answered with an error: no point waiting for its reply.
            if kind != "error" and "id" in matching and _matches(message, "error", {"id": matching["id"]}):
                raise AssertionError(f"{kind} {matching} answered with an error: {message}")

    async def close_code(self, seconds: float = WAIT_SECONDS) -> int | None:
        """The close code the server ends the socket with (after any frames still queued)."""
        async with asyncio.timeout(seconds):
            while True:
                frame = await self.ws.receive()
                if frame.type in (
                    aiohttp.WSMsgType.CLOSE,
                    aiohttp.WSMsgType.CLOSED,
                    aiohttp.WSMsgType.CLOSING,
                    aiohttp.WSMsgType.ERROR,
                ):
                    return self.ws.close_code


def _matches(message: dict[str, Any], kind: str, matching: Mapping[str, Any]) -> bool:
    return message.get("type") == kind and all(message.get(k) == v for k, v in matching.items())


@dataclass
class RunningRegion:
    """A platform started as `ccctl up` starts it, and its users' ways in."""

    platform: Platform
    secret: str
    #: The ChannelEndpoints the examples applied, by name (their credentials sign webhooks).
    endpoints: dict[str, ChannelEndpoint] = field(default_factory=dict)

    @property
    def plan(self) -> LaunchPlan:
        return self.platform.plan

    @property
    def region(self) -> str:
        return self.plan.regions[0]

    @property
    def nats_url(self) -> str:
        return self.platform.nats_url

    @property
    def http_base(self) -> str:
        return f"http://127.0.0.1:{self.plan.gateway_http_port}"

    @property
    def ws_base(self) -> str:
        return f"ws://127.0.0.1:{self.plan.gateway_http_port}"

    # ---- identities -------------------------------------------------------------------------

    def token(self, role: str = "admin", subject: str = "e2e", tenant: str = "acme", **claims: Any) -> str:
        """A bearer token as `ccctl token` mints it (extra claims, e.g. a brand, where supported)."""
        return TokenAuthority(self.secret).mint(tenant, role, subject, **claims)

    def ccctl(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        """`ccctl ARGS` run as an operator of this region would (its secret and region set)."""
        env = {**os.environ, "CC_AUTH_SECRET": self.secret, "CC_REGION": self.region}
        return subprocess.run(
            [sys.executable, "-m", "ccctl.main", *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=REPO,
            timeout=timeout,
            check=False,
        )

    @contextlib.asynccontextmanager
    async def connect(self) -> AsyncIterator[NATS]:
        nc = await nats.connect(self.nats_url, connect_timeout=5, max_reconnect_attempts=3)
        try:
            yield nc
        finally:
            await nc.close()

    def stub(self, nc: NATS, stub_class: type[_T], token: str, region: str = "") -> _T:
        """A generated gRPC stub over the mesh (`cc.<region>.<service>.v1.<Method>`)."""
        return mesh_stub(stub_class, MeshChannel(nc, region or self.region, token=token))  # type: ignore[no-any-return]

    @contextlib.asynccontextmanager
    async def http(self) -> AsyncIterator[aiohttp.ClientSession]:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=WAIT_SECONDS)) as session:
            yield session

    # ---- customers --------------------------------------------------------------------------

    async def chat(
        self, http: aiohttp.ClientSession, endpoint: str = "acme-webchat", **hello: Any
    ) -> WsClient:
        """A web chat customer, connected and greeted (`hello` fields: visitor, name...)."""
        ws = await http.ws_connect(f"{self.http_base}/v1/webchat/{endpoint}/ws")
        client = WsClient(ws)
        await client.send(type="hello", **hello)
        await client.expect("welcome")
        return client

    async def twilio(
        self, http: aiohttp.ClientSession, endpoint: str, path: str, form: Mapping[str, str]
    ) -> tuple[int, str]:
        """A signed Twilio webhook (`path`: sms, voice, voice/gather...): status and body."""
        spec = self.endpoints[endpoint].spec
        assert spec.twilio is not None, f"{endpoint} has no Twilio credentials"
        url = f"{self.http_base}/v1/twilio/{endpoint}/{path}"
        signature = twilio_signature(url, form.items(), spec.twilio.auth_token)
        async with http.post(
            url,
            data=urlencode(dict(form)),
            headers={
                "X-Twilio-Signature": signature,
                "Content-Type": "application/x-www-form-urlencoded",
            },
        ) as response:
            return response.status, await response.text()

    async def sms(
        self,
        http: aiohttp.ClientSession,
        sender: str,
        text: str,
        endpoint: str = "acme-uk-sms",
        sid: str = "",
    ) -> tuple[int, str]:
        """A customer's SMS as Twilio posts it to the endpoint's webhook."""
        spec = self.endpoints[endpoint].spec
        form = {
            "MessageSid": sid or "SM" + base64.b16encode(os.urandom(16)).decode().lower(),
            "AccountSid": spec.twilio.account_sid if spec.twilio else "",
            "From": sender,
            "To": spec.address,
            "Body": text,
            "NumMedia": "0",
        }
        return await self.twilio(http, endpoint, "sms", form)

    async def generic(
        self, http: aiohttp.ClientSession, endpoint: str, body: Mapping[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        """A message through the signed generic provider API."""
        spec = self.endpoints[endpoint].spec
        generic = getattr(spec, "generic", None)
        assert generic is not None, f"{endpoint} has no generic credentials"
        raw = orjson.dumps(dict(body))
        stamp = str(int(time.time()))
        async with http.post(
            f"{self.http_base}/v1/generic/{endpoint}/messages",
            data=raw,
            headers={
                "Content-Type": "application/json",
                "X-CC-Timestamp": stamp,
                "X-CC-Signature": generic_signature(generic.signing_secret, stamp, raw),
            },
        ) as response:
            return response.status, orjson.loads(await response.read() or b"{}")

    # ---- agents -----------------------------------------------------------------------------

    async def agent(
        self, http: aiohttp.ClientSession, agent_id: str, available: bool = True, tenant: str = "acme"
    ) -> WsClient:
        """An agent logged in to the workspace socket (and set available unless told not to)."""
        ws = await http.ws_connect(f"{self.http_base}/v1/agent/ws")
        client = WsClient(ws)
        await client.send(type="auth", token=self.token("agent", agent_id, tenant))
        await client.expect("ready")
        if available:
            await client.send(type="set_state", id="available", state="available")
            await client.expect("state", id="available")
        return client

    # ---- what happened ----------------------------------------------------------------------

    async def events(self, subject: str = "", region: str = "") -> list[events_pb2.Event]:
        """Every event stored so far on the region's stream matching `subject`, oldest first."""
        region = region or self.region
        subject = subject or naming.event_subject(region, "*", "*", "*")
        async with self.connect() as nc:
            return [
                events_pb2.Event.FromString(message.data)
                async for message in stream_read.stored(
                    nc.jetstream(), subject, stream=naming.events_stream(region).name
                )
            ]

    async def contact_events(self, contact_id: str, region: str = "") -> list[events_pb2.Event]:
        region = region or self.region
        return await self.events(naming.event_subject(region, "*", "*", contact_id), region)

    async def wait_event(
        self, kind: str, contact_id: str = "", count: int = 1, region: str = ""
    ) -> list[events_pb2.Event]:
        """At least `count` events of payload `kind` (of one contact, or any), bounded wait."""

        async def enough() -> list[events_pb2.Event] | None:
            stored = await (
                self.contact_events(contact_id, region) if contact_id else self.events(region=region)
            )
            found = [e for e in stored if e.WhichOneof("payload") == kind]
            return found if len(found) >= count else None

        return await eventually(enough)

    async def restart(self, service: str, region: str = "") -> None:
        """Stop every instance of one service of the region (SIGTERM: it drains as in production)
        and start a new one, as an operator's rollout does; returns once it serves."""
        region = region or self.region
        platform = self.platform
        old = [s for s in platform.services if (s.name, s.region) == (service, region)]
        for running in old:
            running.process.terminate()
        for running in old:
            await asyncio.to_thread(running.process.wait, START_SECONDS)
        platform.services = [s for s in platform.services if s not in old]
        region_index, service_index = self.plan.regions.index(region), PLATFORM_SERVICES.index(service)
        platform.services.append(_start_service(platform, self.secret, region_index, service_index, 1))
        await wait_until_serving(platform)

    def log(self, service: str, region: str = "") -> str:
        """A service's log so far (for assertion messages)."""
        region = region or self.region
        path = self.plan.data_dir / "logs" / f"{region}-{service}.log"
        return path.read_text(errors="replace") if path.exists() else ""


def plan_for(data_dir: Path, regions: list[str] | None = None, **overrides: Any) -> LaunchPlan:
    """A LaunchPlan on free ports (several platforms can run at once)."""
    known = {f.name for f in fields(LaunchPlan)}
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "regions": regions or ["eu"],
        "examples_dir": EXAMPLES,
        "nats_port": free_port(),
        "nats_monitor_port": free_port(),
        "grpc_base_port": 0,
        "gateway_http_port": free_port(),
        "ready_timeout": START_SECONDS,
    }
    for name in ("gateway_smtp_port", "smtp_port"):
        if name in known:
            values[name] = free_port()
    values.update(overrides)
    unknown = sorted(set(values) - known)
    if unknown:
        raise TypeError(f"LaunchPlan has no field(s) {unknown}")
    return LaunchPlan(**values)


def _endpoints(plan: LaunchPlan) -> dict[str, ChannelEndpoint]:
    found: dict[str, ChannelEndpoint] = {}
    for region in plan.regions:
        path = plan.examples_dir / "channels" / f"{region}.yaml"
        if path.exists():
            for sourced in load_file(path):
                if isinstance(sourced.document, ChannelEndpoint):
                    found[sourced.document.metadata.name] = sourced.document
    return found


def _prepared(data_dir: Path, regions: list[str] | None, overrides: dict[str, Any]) -> tuple[Platform, str]:
    plan = plan_for(data_dir, regions, **overrides)
    (plan.data_dir / "logs").mkdir(parents=True, exist_ok=True)
    return Platform(plan), auth_secret(plan.data_dir)


@contextlib.contextmanager
def running_region(
    data_dir: Path, regions: list[str] | None = None, **overrides: Any
) -> Iterator[RunningRegion]:
    """Start a platform as `ccctl up` does, yield it, stop it (whatever happened)."""
    platform, secret = _prepared(data_dir, regions, overrides)
    try:
        asyncio.run(bring_up(platform, secret))
        yield RunningRegion(platform, secret, _endpoints(platform.plan))
    finally:
        stop(platform)


@contextlib.asynccontextmanager
async def start_region(
    data_dir: Path, regions: list[str] | None = None, **overrides: Any
) -> AsyncIterator[RunningRegion]:
    """`running_region` for use inside a test's event loop."""
    platform, secret = _prepared(data_dir, regions, overrides)
    try:
        await bring_up(platform, secret)
        yield RunningRegion(platform, secret, _endpoints(platform.plan))
    finally:
        await asyncio.to_thread(stop, platform)
