"""The embedded platform behind `make run`: one nats-server and every service as a process.

Everything lives under the data directory (`.data/` by default): the NATS store, the auth
secret (created once, mode 0600), and one log file per service process. A second start
reuses all of it, so nothing stored is lost. Stopping (Ctrl-C or SIGTERM) sends SIGTERM to
every service, waits for them to drain, then stops NATS; nothing is left running.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import nats

from ccctl.discovery_client import PLATFORM_SERVICES, discover, summarize
from ccctl.workspace_seed import SeedError, seed_workspace
from ccmesh.configplane.loader import load_files
from ccmesh.configplane.models import ChannelEndpoint
from ccmesh.configplane.store import ConfigStore
from ccmesh.natsserver import NatsServer, NatsServerError, NatsServerSpec, free_port

GATEWAY_HTTP_PORT = 8080
#: Inbound e-mail (the SMTP listener); 2525 because 25 needs root.
GATEWAY_SMTP_PORT = 2525


class LaunchError(RuntimeError):
    """The platform could not start; the message says what to do."""


@dataclass
class LaunchPlan:
    data_dir: Path
    regions: list[str]
    examples_dir: Path
    nats_port: int = 4222
    nats_monitor_port: int = 8222
    grpc_base_port: int = 50051
    gateway_http_port: int = GATEWAY_HTTP_PORT
    gateway_smtp_port: int = GATEWAY_SMTP_PORT
    ready_timeout: float = 60.0

    def grpc_port(self, region_index: int, service_index: int) -> int:
        return self.grpc_base_port + region_index * 10 + service_index


@dataclass
class RunningService:
    region: str
    name: str
    process: subprocess.Popen[bytes]
    grpc_port: int
    log_file: Path


@dataclass
class Platform:
    plan: LaunchPlan
    nats: NatsServer | None = None
    services: list[RunningService] = field(default_factory=list)
    #: Names of the applied web chat `ChannelEndpoint`s (their pages are /chat/<name>).
    webchat_endpoints: list[str] = field(default_factory=list)

    @property
    def nats_url(self) -> str:
        return f"nats://127.0.0.1:{self.plan.nats_port}"


def auth_secret(data_dir: Path) -> str:
    path = data_dir / "auth-secret"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def start_nats(platform: Platform) -> None:
    plan = platform.plan
    spec = NatsServerSpec(
        name="cc-embedded",
        store_dir=plan.data_dir / "nats" / "store",
        port=plan.nats_port,
        http_port=plan.nats_monitor_port,
        tags=[f"region:{region}" for region in plan.regions],
    )
    server = NatsServer(spec, log_file=plan.data_dir / "logs" / "nats-server.log")
    server.start()
    platform.nats = server
    try:
        server.wait_healthy(timeout=30)
    except NatsServerError as error:
        raise LaunchError(
            f"{error}\n(is port {plan.nats_port} or {plan.nats_monitor_port} already in use?)"
        ) from None


async def apply_examples(platform: Platform) -> list[str]:
    files = [platform.plan.examples_dir / f"{region}.yaml" for region in platform.plan.regions]
    missing = [str(f) for f in files if not f.exists()]
    if missing:
        raise LaunchError(f"no example ContactCenter for region(s): {', '.join(missing)}")
    # Where customers reach the tenants (webhooks, web chat pages), for regions that have examples;
    # after the ContactCenters, whose tenants they name.
    channels = [
        platform.plan.examples_dir / "channels" / f"{region}.yaml" for region in platform.plan.regions
    ]
    files += [f for f in channels if f.exists()]
    documents = load_files(files)
    platform.webchat_endpoints = [
        s.document.metadata.name
        for s in documents
        if isinstance(s.document, ChannelEndpoint) and s.document.spec.channel == "webchat"
    ]
    nc = await nats.connect(platform.nats_url)
    try:
        store = await ConfigStore.open(nc.jetstream())
        lines = []
        for sourced in documents:
            result = await store.apply(sourced.document)
            state = f"configured (generation {result.generation})" if result.changed else "unchanged"
            lines.append(f"{result.kind.lower()}/{result.name} {state}")
        return lines
    finally:
        await nc.close()


async def seed_examples(platform: Platform, secret: str) -> list[str]:
    """Example queues and agents (examples/workspace/<region>.yaml), once the services serve."""
    lines: list[str] = []
    for region in platform.plan.regions:
        path = platform.plan.examples_dir / "workspace" / f"{region}.yaml"
        if path.exists():
            try:
                lines += await seed_workspace(platform.nats_url, region, secret, path)
            except SeedError as error:
                raise LaunchError(str(error)) from None
    return lines


def start_services(platform: Platform, secret: str) -> None:
    plan = platform.plan
    for region_index, region in enumerate(plan.regions):
        for service_index, name in enumerate(PLATFORM_SERVICES):
            # Base port 0: every service takes a free port (tests run several platforms at once).
            grpc_port = plan.grpc_port(region_index, service_index) if plan.grpc_base_port else free_port()
            log_file = plan.data_dir / "logs" / f"{region}-{name}.log"
            env = {
                **os.environ,
                "CC_REGION": region,
                "CC_NATS_URL": platform.nats_url,
                "CC_AUTH_SECRET": secret,
                "CC_GRPC_PORT": str(grpc_port),
                "CC_INSTANCE_NAME": f"{name}-{region}-1",
                "CC_PLACEMENT_BY_REGION": "true",
            }
            if name == "gateway" and region_index == 0:
                env["CC_HTTP_PORT"] = str(plan.gateway_http_port)
                # Fixed ports for a person; free ones when tests run several platforms at once.
                env["CC_SMTP_PORT"] = str(plan.gateway_smtp_port if plan.grpc_base_port else 0)
                if plan.gateway_http_port:
                    env.setdefault("CC_PUBLIC_BASE_URL", f"http://127.0.0.1:{plan.gateway_http_port}")
            if name == "integration":
                # On a developer's machine webhook receivers are plain http:// on localhost.
                env["CC_LOCAL_MODE"] = "true"
            with log_file.open("ab") as log:
                process = subprocess.Popen(
                    [sys.executable, "-m", name],
                    env=env,
                    stdout=log,
                    stderr=log,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,  # Ctrl-C goes to us; we stop the services in order
                )
            platform.services.append(RunningService(region, name, process, grpc_port, log_file))


async def wait_until_serving(platform: Platform) -> None:
    deadline = time.monotonic() + platform.plan.ready_timeout
    nc = await nats.connect(platform.nats_url)
    try:
        while True:
            dead = [s for s in platform.services if s.process.poll() is not None]
            if dead:
                names = ", ".join(f"{s.region}/{s.name} (see {s.log_file})" for s in dead)
                raise LaunchError(f"service(s) exited during start: {names}")
            rows = summarize(await discover(nc, 0.3), platform.plan.regions)
            if rows and all(row.status == "SERVING" for row in rows):
                return
            if time.monotonic() > deadline:
                waiting = ", ".join(f"{r.region}/{r.service}" for r in rows if r.status != "SERVING")
                raise LaunchError(f"not serving after {platform.plan.ready_timeout:.0f}s: {waiting}")
    finally:
        await nc.close()


def stop(platform: Platform, grace: float = 15.0) -> None:
    for service in platform.services:
        if service.process.poll() is None:
            service.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for service in platform.services:
        try:
            service.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            service.process.kill()
            service.process.wait()
    platform.services.clear()
    if platform.nats is not None:
        platform.nats.stop()
        platform.nats = None


def summary(platform: Platform, applied: list[str]) -> str:
    lines = [
        "contact center platform is up",
        f"  NATS            {platform.nats_url}  (monitoring http://127.0.0.1:{platform.plan.nats_monitor_port})",
        f"  gateway         http://127.0.0.1:{platform.plan.gateway_http_port}"
        "  (GET /healthz, POST /v1/tenants/<tenant>/messages)",
        f"  data            {platform.plan.data_dir}/  (logs in {platform.plan.data_dir}/logs/)",
        "  config          " + "; ".join(applied),
        "  gRPC APIs:",
    ]
    for service in platform.services:
        lines.append(f"    {service.region:<14}{service.name:<12}127.0.0.1:{service.grpc_port}")
    web = f"http://127.0.0.1:{platform.plan.gateway_http_port}"
    for name in platform.webchat_endpoints:
        lines.append(f"  web chat        {web}/chat/{name}")
    if platform.plan.grpc_base_port:
        lines.append(
            f"  e-mail          smtp://127.0.0.1:{platform.plan.gateway_smtp_port}"
            "  (write to support@acme.example)"
        )
    lines.append(f"  agent page      {web}/agent       (log in with an agent token, below)")
    lines.append(f"  supervisor      {web}/supervisor  (log in with a supervisor token)")
    lines.append(
        "  agent token:    .venv/bin/ccctl token --tenant acme --role agent --subject <agent-id>"
        "  (--role supervisor for the supervisor page)"
    )
    lines.append("  try: .venv/bin/ccctl status   |   .venv/bin/ccctl token --tenant acme --role admin")
    lines.append("Ctrl-C stops everything.")
    return "\n".join(lines)


def run(plan: LaunchPlan) -> int:
    plan.data_dir.mkdir(parents=True, exist_ok=True)
    (plan.data_dir / "logs").mkdir(exist_ok=True)
    platform = Platform(plan)

    def request_stop(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    # Both explicitly: a shell that starts us in the background makes us inherit an ignored SIGINT.
    previous = {signum: signal.signal(signum, request_stop) for signum in (signal.SIGTERM, signal.SIGINT)}
    try:
        secret = auth_secret(plan.data_dir)
        start_nats(platform)
        applied = asyncio.run(apply_examples(platform))
        start_services(platform, secret)
        asyncio.run(wait_until_serving(platform))
        applied += asyncio.run(seed_examples(platform, secret))
        print(summary(platform, applied), flush=True)
        while True:
            for service in platform.services:
                if service.process.poll() is not None:
                    print(
                        f"{service.region}/{service.name} exited with {service.process.returncode}; "
                        f"see {service.log_file}",
                        file=sys.stderr,
                    )
                    raise LaunchError("a service stopped unexpectedly")
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("\nstopping: draining services, then NATS ...", flush=True)
        return 0
    except LaunchError as error:
        print(f"ccctl up: {error}", file=sys.stderr)
        return 1
    finally:
        stop(platform)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        print("stopped; nothing left running.", flush=True)
