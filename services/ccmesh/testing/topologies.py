"""Real nats-server topologies on loopback: one server, a 3-node cluster, a supercluster.

Every server gets free ports and its own temporary store directory; `stop_all`
terminates every process that was started, so a failed test leaves nothing behind.
A topology is returned only once it is usable: JetStream ready, a meta leader
elected, and (for a supercluster) every gateway connected both ways.

Start-up cost, measured on the 2-core machine: one server and a 3-node cluster are ready
in well under a second. A supercluster is one JetStream meta group across all regions; with
two one-server regions that group has two members, which split their first vote about half
the time, so it is ready after about 1.3 s or about 6-8 s (nats-server's election timeout).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from ccmesh.natsserver import NatsServer, NatsServerError, NatsServerSpec, free_port

#: Cluster start-up includes a meta leader election; on a busy 2-core machine that can take a while.
READY_TIMEOUT = 30.0
#: `free_port` only finds a port that was free a moment ago; other test runs can take it first.
PORT_CONFLICT_ATTEMPTS = 3


_T = TypeVar("_T")


class _PortConflictError(NatsServerError):
    def __init__(self, message: str, store_dirs: list[Path]) -> None:
        super().__init__(message)
        self.store_dirs = store_dirs


@dataclass
class Topology:
    servers: list[NatsServer] = field(default_factory=list)

    @property
    def urls(self) -> list[str]:
        return [s.url for s in self.servers]

    @property
    def pids(self) -> list[int]:
        return [pid for pid in (s.pid for s in self.servers) if pid is not None]

    @property
    def store_dirs(self) -> list[Path]:
        return [s.spec.store_dir for s in self.servers]

    def server(self, name: str) -> NatsServer:
        for candidate in self.servers:
            if candidate.spec.name == name:
                return candidate
        raise KeyError(f"no server named {name!r}; have {[s.spec.name for s in self.servers]}")

    def restart(self, name: str) -> None:
        """Start the server `name` again (after `kill` or `stop`) and return once the topology is
        whole again: the server caught up and, in a cluster, current and online in the meta
        leader's view, so the next stream placed on every server does not find it offline."""
        self.server(name).start()
        if len(self.servers) == 1:
            self.servers[0].wait_healthy()
        else:
            _wait_until(
                self.servers, lambda: _cluster_ready(self.servers, every_peer_current=True), READY_TIMEOUT
            )

    def stop_all(self) -> None:
        for server in self.servers:
            server.stop()


@dataclass
class SuperclusterTopology:
    """One cluster per region (cluster name = region name), joined by gateways."""

    regions: dict[str, Topology] = field(default_factory=dict)

    @property
    def servers(self) -> list[NatsServer]:
        return [server for topology in self.regions.values() for server in topology.servers]

    @property
    def urls(self) -> list[str]:
        return [s.url for s in self.servers]

    @property
    def pids(self) -> list[int]:
        return [pid for pid in (s.pid for s in self.servers) if pid is not None]

    def urls_of(self, region: str) -> list[str]:
        return self.regions[region].urls

    def store_dirs(self, region: str) -> list[Path]:
        """Where this region's servers keep JetStream data: used to prove data stays in a region."""
        return self.regions[region].store_dirs

    def stop_all(self) -> None:
        for topology in self.regions.values():
            topology.stop_all()


def single_server(root: Path, name: str = "n1", tags: list[str] | None = None) -> Topology:
    server = NatsServer(NatsServerSpec(name=name, store_dir=root / name / "store", tags=tags or []))
    server.start()
    topology = Topology([server])
    try:
        server.wait_healthy()
    except Exception:
        topology.stop_all()
        raise
    return topology


def three_node_cluster(root: Path, name: str = "c1", tags: list[str] | None = None) -> Topology:
    """Three servers routed into one JetStream cluster; returns once a meta leader is elected."""

    def attempt() -> Topology:
        topology = Topology(_cluster_members(root, name, size=3, tags=tags or []))
        _start_and_wait(topology.servers, lambda: _cluster_ready(topology.servers), topology.stop_all)
        return topology

    return _retry_on_port_conflict(attempt)


def supercluster(
    root: Path, regions: Iterable[str] = ("eu", "us"), servers_per_region: int = 1
) -> SuperclusterTopology:
    """One cluster per region, servers tagged `region:<name>`, every cluster gatewayed to every other.

    A one-server region still gets a `cluster {}` block: the gateway is named after the cluster,
    and JetStream runs clustered across the gateways (one meta group for the whole supercluster).
    """
    names = list(regions)
    if len(set(names)) != len(names) or len(names) < 2:
        raise ValueError(f"a supercluster needs at least two distinct regions, got {names}")

    def attempt() -> SuperclusterTopology:
        members = {
            region: _cluster_members(root, region, servers_per_region, [f"region:{region}"], gateway=True)
            for region in names
        }
        # Ports are known once every spec exists, so gateways are wired in a second pass.
        gateway_urls = {region: [s.spec.gateway_url for s in servers] for region, servers in members.items()}
        for region, servers in members.items():
            for server in servers:
                server.spec.gateways = {
                    other: urls for other, urls in gateway_urls.items() if other != region
                }
        topology = SuperclusterTopology({region: Topology(servers) for region, servers in members.items()})
        _start_and_wait(
            topology.servers,
            lambda: _cluster_ready(topology.servers) and _gateways_connected(topology.servers, names),
            topology.stop_all,
        )
        return topology

    return _retry_on_port_conflict(attempt)


def _cluster_members(
    root: Path, cluster: str, size: int, tags: list[str], gateway: bool = False
) -> list[NatsServer]:
    if size < 1:
        raise ValueError(f"cluster {cluster}: needs at least one server, got {size}")
    specs = [
        NatsServerSpec(
            # Server names must be unique across the whole supercluster, hence the cluster prefix.
            name=f"{cluster}-n{i}",
            store_dir=root / cluster / f"n{i}" / "store",
            tags=list(tags),
            cluster_name=cluster,
            gateway_port=free_port() if gateway else 0,
        )
        for i in range(1, size + 1)
    ]
    for spec in specs:
        # nats-server 2.15 refuses clustered JetStream with no configured route ("JetStream cluster
        # requires configured routes"); a lone server therefore routes to itself, which it detects
        # and ignores, and keeps the cluster name its gateway needs.
        others = [other for other in specs if other is not spec] or [spec]
        spec.routes = [f"nats://{other.host}:{other.cluster_port}" for other in others]
    return [NatsServer(spec) for spec in specs]


def _retry_on_port_conflict(attempt: Callable[[], _T]) -> _T:
    """Run `attempt` again (fresh ports, empty stores) when a server lost the race for its port."""
    for attempt_number in range(1, PORT_CONFLICT_ATTEMPTS + 1):
        try:
            return attempt()
        except _PortConflictError as conflict:
            if attempt_number == PORT_CONFLICT_ATTEMPTS:
                raise
            for store_dir in conflict.store_dirs:
                shutil.rmtree(store_dir, ignore_errors=True)
    raise AssertionError("unreachable: the last attempt returns or raises")


def _start_and_wait(
    servers: list[NatsServer], ready: Callable[[], bool], stop_all: Callable[[], None]
) -> None:
    # Start every process before waiting: a cluster cannot elect a leader one member at a time.
    try:
        for server in servers:
            server.start()
        _wait_until(servers, ready, READY_TIMEOUT)
    except BaseException as failure:
        stop_all()
        if isinstance(failure, NatsServerError) and "address already in use" in str(failure):
            raise _PortConflictError(str(failure), [s.spec.store_dir for s in servers]) from failure
        raise


def _wait_until(servers: list[NatsServer], ready: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for server in servers:
            server.raise_if_exited()
        if ready():
            return
        time.sleep(0.1)
    logs = ", ".join(str(s.log_file) for s in servers)
    raise NatsServerError(f"topology not ready after {timeout}s; see {logs}")


def _cluster_ready(servers: list[NatsServer], *, every_peer_current: bool = False) -> bool:
    """Every server sees the same JetStream meta leader, with every server a known meta peer,
    and answers the full `/healthz` (JetStream caught up), so stream creation cannot race startup.

    With `every_peer_current`, the meta leader also counts every other server current and
    online: a server restarted into a running cluster is healthy before the leader has seen it
    again, and until then a stream placed on every server is refused ("peer offline")."""
    leaders: set[str] = set()
    for server in servers:
        try:
            meta = server.monitoring("jsz").get("meta_cluster") or {}
        except OSError:
            return False
        leader = meta.get("leader")
        if (
            not leader
            or meta.get("cluster_size", 0) < len(servers)
            or not server.healthy(js_enabled_only=False)
        ):
            return False
        if every_peer_current and leader == server.spec.name:
            peers = meta.get("replicas") or []
            if len(peers) < len(servers) - 1 or not all(
                p.get("current") and not p.get("offline") for p in peers
            ):
                return False
        leaders.add(leader)
    return len(leaders) == 1


def _gateways_connected(servers: list[NatsServer], regions: list[str]) -> bool:
    """Every server has an outbound gateway to every other region, and each region accepts inbound
    gateways from every other region (on some member: a remote server picks one of them)."""
    inbound_by_region: dict[str, set[str]] = {region: set() for region in regions}
    for server in servers:
        region = str(server.spec.cluster_name)
        try:
            gatewayz = server.monitoring("gatewayz")
        except OSError:
            return False
        if not set(regions) - {region} <= set((gatewayz.get("outbound_gateways") or {}).keys()):
            return False
        inbound_by_region[region] |= set((gatewayz.get("inbound_gateways") or {}).keys())
    return all(set(regions) - {region} <= inbound for region, inbound in inbound_by_region.items())
