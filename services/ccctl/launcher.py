"""The embedded platform behind `make run`: one nats-server and every service as a process.

Everything lives under the data directory (`.data/` by default): the NATS store, the auth
secret (created once, mode 0600), and one log file per service process. A second start
reuses all of it, so nothing stored is lost. Stopping (Ctrl-C, SIGTERM, or the terminal
closed: SIGHUP) sends SIGTERM to every service, waits for them to drain, then stops NATS;
nothing is left running. Killed outright, the launcher leaves nothing running either: the
kernel sends each process it started SIGTERM (`ccmesh.child_process`).
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
import orjson

from ccctl import sandbox_process
from ccctl.demo_ai import DemoAiError, load_demo_ai, served_tenants
from ccctl.discovery_client import PLATFORM_SERVICES, discover, summarize
from ccctl.flow_seed import FlowSeedError, publish_example_flows
from ccctl.replicas import (
    DEFAULT_REPLICA_CAP,
    ReplicaCount,
    ReplicaError,
    check_counts,
    local_replicas,
    replicas_asked,
)
from ccctl.sandbox_process import (
    RunningSandbox,
    SandboxStartError,
    at_sandbox,
    connector_at_sandbox,
    start_sandbox,
    stop_sandbox,
)
from ccctl.up_observability import (
    PROMETHEUS_PORT,
    SCRAPE_SECONDS,
    ObservabilityError,
    RunningPrometheus,
    start_prometheus,
    stop_prometheus,
)
from ccctl.workspace_seed import SeedError, seed_workspace
from ccmesh import prometheus
from ccmesh.channels import Channel
from ccmesh.child_process import stopped_with_owner
from ccmesh.configplane.loader import ConfigFileError, load_files
from ccmesh.configplane.models import ChannelEndpoint, ContactCenter, IntegrationConnector
from ccmesh.configplane.references import dangling_references
from ccmesh.configplane.store import ConfigStore
from ccmesh.natsserver import NatsServer, NatsServerError, NatsServerSpec, free_port
from ccmesh.telemetry import default_sampling

GATEWAY_HTTP_PORT = 8080
#: Inbound e-mail (the SMTP listener); 2525 because 25 needs root.
GATEWAY_SMTP_PORT = 2525


class LaunchError(RuntimeError):
    """The platform could not start; the message says what to do."""


@dataclass
class LaunchPlan:
    """What to start. A port of 0 means "choose a free port" (tests start several platforms)."""

    data_dir: Path
    regions: list[str]
    examples_dir: Path
    nats_port: int = 4222
    nats_monitor_port: int = 8222
    #: 0: every service process takes a free gRPC port, and SMTP listeners take free ports too.
    grpc_base_port: int = 50051
    #: The first region's gateway; the next regions' gateways use the following ports.
    gateway_http_port: int = GATEWAY_HTTP_PORT
    gateway_smtp_port: int = GATEWAY_SMTP_PORT
    #: The provider sandbox (Twilio, WhatsApp, SMTP relay stand-in); free ports when grpc_base_port is 0.
    sandbox_http_port: int = sandbox_process.HTTP_PORT
    sandbox_smtp_port: int = sandbox_process.SMTP_PORT
    ready_timeout: float = 60.0
    #: Instances per service and region named on the command line (`--replicas routing=2`);
    #: a service not named runs as its region's ContactCenter asks, capped (see `ccctl.replicas`).
    replicas: dict[str, int] = field(default_factory=dict)
    #: The most instances of a service a ContactCenter's count starts here (`--replica-cap`).
    replica_cap: int = DEFAULT_REPLICA_CAP
    #: Read from each region's ContactCenter when it is applied: region -> service -> count.
    asked_replicas: dict[str, dict[str, int]] = field(default_factory=dict)
    #: Every service process serves Prometheus `/metrics` on a free loopback port of its own.
    metrics: bool = False
    #: A local Prometheus scrapes every service (`ccctl up --observability`; implies `metrics`).
    observability: bool = False
    #: Its HTTP port (0: a free one) and how often it scrapes.
    prometheus_port: int = PROMETHEUS_PORT
    prometheus_scrape_seconds: float = SCRAPE_SECONDS
    #: Chosen when the plan is made: the HTTP and SMTP port of each region's gateway.
    gateway_http_ports: dict[str, int] = field(default_factory=dict)
    gateway_smtp_ports: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        try:
            check_counts(self.replicas, PLATFORM_SERVICES, self.replica_cap)
        except ReplicaError as error:
            raise LaunchError(str(error)) from None
        self.nats_port = self.nats_port or free_port()
        self.metrics = self.metrics or self.observability
        if self.observability and not (self.prometheus_port and self.grpc_base_port):
            # A free port when asked, and when tests run several platforms (gRPC base port 0).
            self.prometheus_port = free_port()
        self.nats_monitor_port = self.nats_monitor_port or free_port()
        fixed_http = self.gateway_http_port
        # Fixed SMTP ports for a person; free ones when tests run several platforms at once.
        fixed_smtp = self.gateway_smtp_port if self.grpc_base_port else 0
        for index, region in enumerate(self.regions):
            # The first region takes the port asked for; the next ones follow it for a person,
            # and take free ones when tests run several platforms (gRPC base port 0).
            following = fixed_http + index if fixed_http and (index == 0 or self.grpc_base_port) else 0
            self.gateway_http_ports.setdefault(region, following or free_port())
            self.gateway_smtp_ports.setdefault(region, fixed_smtp + index if fixed_smtp else free_port())
        self.gateway_http_port = self.gateway_http_ports[self.regions[0]] if self.regions else fixed_http
        self.gateway_smtp_port = self.gateway_smtp_ports[self.regions[0]] if self.regions else fixed_smtp

    def grpc_port(self, region_index: int, service_index: int) -> int:
        return self.grpc_base_port + region_index * 10 + service_index

    def replica_count(self, service: str, region: str | None = None) -> ReplicaCount:
        asked = self.asked_replicas.get(region or next(iter(self.regions), ""), {})
        return local_replicas(service, asked, self.replicas, self.replica_cap)

    def replicas_of(self, service: str, region: str | None = None) -> int:
        """Instances of `service` started in `region` (the first region by default)."""
        return self.replica_count(service, region).started


def parse_replicas(text: str) -> dict[str, int]:
    """`routing=2,gateway=3` -> {"routing": 2, "gateway": 3}; errors name the bad part."""
    counts: dict[str, int] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, sep, count = part.partition("=")
        if not sep or not count.strip().isdigit():
            raise LaunchError(f"replicas: {part!r} is not <service>=<count>, e.g. routing=2")
        counts[name.strip()] = int(count)
    return counts


@dataclass
class RunningService:
    region: str
    name: str
    process: subprocess.Popen[bytes]
    grpc_port: int
    log_file: Path
    replica: int = 1
    #: The gateway's HTTP port (None for other services).
    http_port: int | None = None
    #: Where the process serves Prometheus `/metrics` (None when the plan asks for no metrics).
    metrics_port: int | None = None
    #: Where this process's lines begin in its log (a restart appends to the same file).
    log_offset: int = 0


@dataclass
class Platform:
    plan: LaunchPlan
    nats: NatsServer | None = None
    services: list[RunningService] = field(default_factory=list)
    #: Names of the applied web chat `ChannelEndpoint`s (their pages are /chat/<name>).
    webchat_endpoints: list[str] = field(default_factory=list)
    #: The provider sandbox every example endpoint sends to.
    sandbox: RunningSandbox | None = None
    #: The local Prometheus of `--observability`.
    prometheus: RunningPrometheus | None = None

    @property
    def nats_url(self) -> str:
        return f"nats://127.0.0.1:{self.plan.nats_port}"

    def http_url(self, region: str | None = None) -> str:
        """The gateway's HTTP base URL in a region (the first region by default)."""
        return f"http://127.0.0.1:{self.plan.gateway_http_ports[region or self.plan.regions[0]]}"


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
    # The business systems journeys call (the sandbox's CRM), after the tenants they serve.
    connectors = [
        platform.plan.examples_dir / "connectors" / f"{region}.yaml" for region in platform.plan.regions
    ]
    files += [f for f in connectors if f.exists()]
    try:
        documents = load_files(files)
    except ConfigFileError as error:
        raise LaunchError(str(error)) from None
    for sourced in documents:
        document = sourced.document
        if isinstance(document, ContactCenter) and document.spec.region in platform.plan.regions:
            platform.plan.asked_replicas[document.spec.region] = replicas_asked(
                document.spec, PLATFORM_SERVICES
            )
    problems = dangling_references([s.document for s in documents])
    if problems:
        raise LaunchError("; ".join(problems))
    platform.webchat_endpoints = [
        s.document.metadata.name
        for s in documents
        if isinstance(s.document, ChannelEndpoint) and s.document.spec.channel == Channel.WEBCHAT
    ]
    nc = await nats.connect(platform.nats_url)
    try:
        store = await ConfigStore.open(nc.jetstream())
        lines = []
        for sourced in documents:
            document = sourced.document
            if isinstance(document, ChannelEndpoint):
                document = at_sandbox(document, platform.sandbox)
            elif isinstance(document, IntegrationConnector):
                document = connector_at_sandbox(document, platform.sandbox)
            result = await store.apply(document)
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
            for replica in range(1, plan.replicas_of(name, region) + 1):
                platform.services.append(
                    _start_service(platform, secret, region_index, service_index, replica)
                )


def _start_service(
    platform: Platform, secret: str, region_index: int, service_index: int, replica: int
) -> RunningService:
    plan = platform.plan
    region, name = plan.regions[region_index], PLATFORM_SERVICES[service_index]
    # Base port 0: every service binds port 0 itself and says which port it got on its ready
    # line (a port chosen here and bound later can be taken in between on a busy machine); the
    # numbered ports are the first replicas', further replicas take free ones.
    fixed = plan.grpc_base_port and replica == 1
    grpc_port = plan.grpc_port(region_index, service_index) if fixed else 0
    suffix = "" if replica == 1 else f"-{replica}"
    log_file = plan.data_dir / "logs" / f"{region}-{name}{suffix}.log"
    env = {
        **os.environ,
        "CC_REGION": region,
        "CC_NATS_URL": platform.nats_url,
        "CC_AUTH_SECRET": secret,
        "CC_GRPC_PORT": str(grpc_port),
        "CC_INSTANCE_NAME": f"{name}-{region}-{replica}",
        "CC_PLACEMENT_BY_REGION": "true",
    }
    # Tracing at its cost: sampled where a trace starts unless the user chose a sampler.
    env.update(default_sampling(os.environ))
    http_port = None
    if name == "gateway":
        # Every region's gateway serves HTTP; a further replica of it takes a free port.
        http_port = plan.gateway_http_ports[region] if replica == 1 else free_port()
        env["CC_HTTP_PORT"] = str(http_port)
        env["CC_SMTP_PORT"] = str(plan.gateway_smtp_ports[region] if replica == 1 else free_port())
        env.setdefault("CC_PUBLIC_BASE_URL", f"http://127.0.0.1:{plan.gateway_http_ports[region]}")
        # Calls start a media stream for live transcripts: it costs nothing until audio arrives
        # (the recogniser process starts with the first utterance) and a local call shows its
        # transcript on the agent page. A deployment opts in per region (it needs a public wss URL).
        env.setdefault("CC_VOICE_MEDIA_STREAMS", "true")
    if name == "integration":
        # On a developer's machine webhook receivers are plain http:// on localhost.
        env["CC_LOCAL_MODE"] = "true"
        # Each replica keeps its own analytics store (Parquet) in the region's data directory.
        env.setdefault("CC_ANALYTICS_DIR", str(plan.data_dir / "analytics" / f"{region}{suffix}"))
    if name == "ai":
        # Every service of every region shares one machine here: one inference worker process
        # (about 500 MB, its models loaded with the first message) per ai service, unless asked.
        env.setdefault("CC_INFERENCE_WORKERS", "1")
    metrics_port = free_port() if plan.metrics else None
    if metrics_port is not None:
        env.update({prometheus.PORT_VARIABLE: str(metrics_port), prometheus.HOST_VARIABLE: "127.0.0.1"})
    with log_file.open("ab") as log:
        log_offset = log.tell()
        process = subprocess.Popen(
            stopped_with_owner([sys.executable, "-m", name]),
            env=env,
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C goes to us; we stop the services in order
        )
    return RunningService(
        region, name, process, grpc_port, log_file, replica, http_port, metrics_port, log_offset
    )


async def wait_until_serving(platform: Platform) -> None:
    plan = platform.plan
    deadline = time.monotonic() + plan.ready_timeout
    nc = await nats.connect(platform.nats_url)
    try:
        while True:
            dead = [s for s in platform.services if s.process.poll() is not None]
            if dead:
                names = "; ".join(
                    f"{s.region}/{s.name} (see {s.log_file}), its last lines:\n{_log_tail(s.log_file)}"
                    for s in dead
                )
                raise LaunchError(f"service(s) exited during start: {names}")
            _learn_bound_ports(platform.services)
            rows = summarize(await discover(nc, 0.3), platform.plan.regions)
            # Every replica, not just one per service: a test may stop one and expect the other.
            if (
                rows
                and all(
                    row.status == "SERVING" and row.instances >= plan.replicas_of(row.service, row.region)
                    for row in rows
                )
                and all(service.grpc_port for service in platform.services)
            ):
                return
            if time.monotonic() > deadline:
                waiting = ", ".join(f"{r.region}/{r.service}" for r in rows if r.status != "SERVING")
                raise LaunchError(f"not serving after {platform.plan.ready_timeout:.0f}s: {waiting}")
    finally:
        await nc.close()


def _log_tail(log_file: Path, lines: int = 12) -> str:
    try:
        text = log_file.read_text(errors="replace")
    except OSError as error:
        return f"    (log unreadable: {error})"
    return "\n".join(f"    {line}" for line in text.splitlines()[-lines:])


def _learn_bound_ports(services: list[RunningService]) -> None:
    """Fill in the gRPC ports the services bound themselves, from their ready lines."""
    for service in services:
        if service.grpc_port:
            continue
        try:
            with service.log_file.open("rb") as log:
                log.seek(service.log_offset)
                text = log.read().decode(errors="replace")
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith('{"ready":'):
                try:
                    service.grpc_port = int(orjson.loads(line)["grpc_port"])
                except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                    continue
                break


def stop(platform: Platform, grace: float = 15.0) -> None:
    if platform.prometheus is not None:
        stop_prometheus(platform.prometheus)
        platform.prometheus = None
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
    if platform.sandbox is not None:
        stop_sandbox(platform.sandbox)
        platform.sandbox = None


def summary(platform: Platform, applied: list[str]) -> str:
    plan = platform.plan
    lines = [
        "contact center platform is up",
        f"  NATS            {platform.nats_url}  (monitoring http://127.0.0.1:{plan.nats_monitor_port})",
    ]
    for region in plan.regions:
        lines.append(
            f"  gateway {region:<8}{platform.http_url(region)}"
            "  (GET /healthz, POST /v1/tenants/<tenant>/messages)"
        )
    lines += [
        f"  data            {plan.data_dir}/  (logs in {plan.data_dir}/logs/)",
        "  config          " + "; ".join(applied),
        "  gRPC APIs:",
    ]
    for service in platform.services:
        name = service.name if service.replica == 1 else f"{service.name}#{service.replica}"
        extra = f"  (HTTP 127.0.0.1:{service.http_port})" if service.replica > 1 and service.http_port else ""
        if service.metrics_port:
            extra += f"  (metrics http://127.0.0.1:{service.metrics_port}/metrics)"
        lines.append(f"    {service.region:<14}{name:<12}127.0.0.1:{service.grpc_port}{extra}")
    lines += capped_replicas(plan)
    if platform.prometheus is not None:
        lines.append(
            f"  Prometheus      {platform.prometheus.url}  (scrapes every service each "
            f"{plan.prometheus_scrape_seconds:g} s; alerts at {platform.prometheus.url}/alerts; "
            "names in docs/metrics.md)"
        )
    web = platform.http_url()
    for name in platform.webchat_endpoints:
        lines.append(f"  web chat        {web}/chat/{name}")
    if platform.sandbox is not None:
        lines.append(
            f"  provider sandbox {platform.sandbox.url}  (what was sent: .venv/bin/ccctl sandbox messages)"
        )
    for region in plan.regions:
        lines.append(
            f"  e-mail {region:<9}smtp://127.0.0.1:{plan.gateway_smtp_ports[region]}"
            + ("  (write to support@acme.example)" if region == plan.regions[0] else "")
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


def capped_replicas(plan: LaunchPlan) -> list[str]:
    """A line per region whose ContactCenter asks for more instances than run here."""
    lines = []
    for region in plan.regions:
        counts = {name: plan.replica_count(name, region) for name in PLATFORM_SERVICES}
        capped = [f"{name} {c.started} of {c.asked}" for name, c in counts.items() if c.capped]
        if capped:
            lines.append(
                f"  replicas {region:<7}{', '.join(capped)} asked by the ContactCenter "
                f"(capped at {plan.replica_cap}: --replica-cap N or --replicas <service>=N for more)"
            )
    return lines


async def bring_up(platform: Platform, secret: str, start_nats_server: bool = True) -> list[str]:
    """Everything `ccctl up` starts, in order (NATS, configuration, services, example workspace);
    the lines describing what was applied. Tests start the platform through this too; with
    `start_nats_server=False` on NATS servers already running at the plan's port (a cluster)."""
    # NATS, the sandbox and Prometheus are started on this thread, though each start waits for
    # its process to be ready (a second or so, with nothing else to do meanwhile): the kernel
    # stops a child when the thread that started it ends (`ccmesh.child_process`), and a worker
    # thread of the loop's pool ends long before the launcher does.
    if start_nats_server:
        start_nats(platform)
    start_provider_sandbox(platform)
    applied = await apply_examples(platform)
    start_services(platform, secret)
    await wait_until_serving(platform)
    if platform.plan.observability:
        start_local_prometheus(platform)
    applied += await seed_examples(platform, secret)
    applied += await seed_flows(platform, secret)
    # The example tenants' intents and knowledge base, so the first messages show real AI.
    try:
        applied += await load_demo_ai(
            platform.nats_url, platform.plan.regions, secret, platform.plan.examples_dir
        )
    except DemoAiError as error:
        raise LaunchError(str(error)) from None
    return applied


async def seed_flows(platform: Platform, secret: str) -> list[str]:
    """The example journeys (examples/flows/), live for every tenant each region serves."""
    lines: list[str] = []
    for region in platform.plan.regions:
        for tenant in sorted(served_tenants(platform.plan.examples_dir, region)):
            try:
                lines += await publish_example_flows(
                    platform.nats_url, region, secret, tenant, platform.plan.examples_dir / "flows"
                )
            except FlowSeedError as error:
                raise LaunchError(str(error)) from None
    return lines


def start_local_prometheus(platform: Platform) -> None:
    plan = platform.plan
    try:
        platform.prometheus = start_prometheus(
            plan.data_dir / "prometheus",
            platform.services,
            plan.prometheus_port,
            plan.prometheus_scrape_seconds,
        )
    except ObservabilityError as error:
        raise LaunchError(str(error)) from None


def start_provider_sandbox(platform: Platform) -> None:
    plan = platform.plan
    # Fixed ports for a person; free ones when tests run several platforms at once.
    fixed = bool(plan.grpc_base_port)
    try:
        platform.sandbox = start_sandbox(
            plan.data_dir, plan.sandbox_http_port if fixed else 0, plan.sandbox_smtp_port if fixed else 0
        )
    except SandboxStartError as error:
        raise LaunchError(str(error)) from None


def run(plan: LaunchPlan) -> int:
    plan.data_dir.mkdir(parents=True, exist_ok=True)
    (plan.data_dir / "logs").mkdir(exist_ok=True)
    platform = Platform(plan)

    def request_stop(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    # All explicitly: a shell that starts us in the background makes us inherit an ignored SIGINT;
    # a closed terminal (SIGHUP) would otherwise end us without stopping anything.
    stopping = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
    previous = {signum: signal.signal(signum, request_stop) for signum in stopping}
    try:
        secret = auth_secret(plan.data_dir)
        applied = asyncio.run(bring_up(platform, secret))
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
