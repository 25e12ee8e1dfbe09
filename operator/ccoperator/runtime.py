"""What one running operator holds: its config, API client, NATS data plane and per-resource locks.

Built at startup and kept in kopf's `memo`, so tests and the benchmark can hand in their own.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import kopf

from ccoperator.config import Config
from ccoperator.dataplane import RegionDataPlane
from ccoperator.kube.client import KubeClient
from ccoperator.kube.resources import KEDA_CRD, KINDS


@dataclass
class Runtime:
    config: Config
    kube: KubeClient
    dataplane: RegionDataPlane | None
    #: One pass at a time per ContactCenter: the resync daemon and an update may fire together.
    locks: defaultdict[str, asyncio.Lock] = field(default_factory=lambda: defaultdict(asyncio.Lock))
    #: Resources with a pass already waiting for the lock, with the checks of every trigger folded
    #: into it: that pass reads the newest state, so a burst of triggers (five Deployments becoming
    #: ready) costs one extra pass, not five; it runs if any of them still needs it (None: always).
    waiting: dict[str, list[Callable[[], bool] | None]] = field(default_factory=dict)
    #: (ready, desired) per service as the last pass wrote them into status, by `namespace/name`:
    #: a Deployment event that changes neither needs no pass (the resync still checks everything).
    observed: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict)
    #: The generation the last completed pass applied, by `namespace/name`: a create, update or resume
    #: trigger for that generation finds its work done (a daemon pass got there first).
    handled_generation: dict[str, int] = field(default_factory=dict)
    #: `Kind/name` of the prunable objects each ContactCenter (by uid) had after its last pass: the
    #: only candidates its next pass checks for pruning (`ccoperator.prune`).
    known_objects: dict[str, set[str]] = field(default_factory=dict)

    def forget(self, namespace: str, name: str, uid: str) -> None:
        """The resource is gone: drop what was remembered about it."""
        self.observed.pop(f"{namespace}/{name}", None)
        self.handled_generation.pop(f"{namespace}/{name}", None)
        self.known_objects.pop(uid, None)

    async def keda_available(self) -> bool:
        return await self.kube.exists(KINDS["CustomResourceDefinition"], None, KEDA_CRD)

    async def close(self) -> None:
        await self.kube.close()
        if self.dataplane is not None:
            await self.dataplane.close()


def connection_info(config: Config, settings: kopf.OperatorSettings) -> kopf.ConnectionInfo:
    """The API server to talk to: an explicit URL (emulators), else in-cluster, else kubeconfig."""
    if config.kube_api_url:
        return kopf.ConnectionInfo(server=config.kube_api_url, insecure=True, default_namespace="default")
    info = kopf.login_with_service_account(settings=settings) or kopf.login_with_kubeconfig(settings=settings)
    if info is None:
        raise kopf.PermanentError("no Kubernetes credentials: not in a cluster and no kubeconfig found")
    return info
