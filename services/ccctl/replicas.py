"""How many instances of each service `ccctl up` starts per region.

The region's ContactCenter says how many it wants, the way the operator reads it: a fixed
`services.<service>.replicas`, or with autoscaling the `minReplicas` the autoscaler never goes
below. On one machine that count is capped (`--replica-cap`, default 1): the example asks for
two of most services, and nine processes per region would only make `make run` slow on a small
machine. `--replicas routing=2` names a count outright and is neither read from the document
nor capped. `replicas: 0` (the service switched off in the region) still starts one locally:
the embedded platform and its example data need every service.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ccmesh.configplane.contactcenter import ContactCenterSpec

#: More than a handful of processes per service on one machine only slows it down.
MAX_REPLICAS = 8
#: What a ContactCenter's count is capped at locally unless `--replica-cap` says otherwise.
DEFAULT_REPLICA_CAP = 1


class ReplicaError(ValueError):
    """A replica count or cap is unusable; the message names the option or field."""


def replicas_asked(spec: ContactCenterSpec, services: Iterable[str]) -> dict[str, int]:
    """service -> the instances the ContactCenter asks for (the operator's starting count)."""
    asked = {}
    for service in services:
        scaling = getattr(spec.services, service)
        asked[service] = scaling.autoscaling.min_replicas if scaling.autoscaling else scaling.replicas
    return asked


def check_counts(overrides: Mapping[str, int], services: Iterable[str], cap: int) -> None:
    """Refuse unknown services, counts outside 1..MAX_REPLICAS and a cap outside that range."""
    known = list(services)
    unknown = sorted(set(overrides) - set(known))
    if unknown:
        raise ReplicaError(f"replicas: unknown service(s) {', '.join(unknown)}; known: {', '.join(known)}")
    bad = {name: count for name, count in overrides.items() if not 1 <= count <= MAX_REPLICAS}
    if bad:
        raise ReplicaError(f"replicas: each count must be 1..{MAX_REPLICAS}, got {bad}")
    if not 1 <= cap <= MAX_REPLICAS:
        raise ReplicaError(f"replica-cap: must be 1..{MAX_REPLICAS}, got {cap}")


@dataclass(frozen=True)
class ReplicaCount:
    started: int
    #: What the ContactCenter asked for; None when `--replicas` named the count.
    asked: int | None

    @property
    def capped(self) -> bool:
        return self.asked is not None and self.asked > self.started


def local_replicas(
    service: str, asked: Mapping[str, int], overrides: Mapping[str, int], cap: int
) -> ReplicaCount:
    """The instances of `service` to start in a region whose ContactCenter asks `asked`."""
    if service in overrides:
        return ReplicaCount(overrides[service], None)
    wanted = asked.get(service, 1)
    return ReplicaCount(max(1, min(wanted, cap)), wanted)
