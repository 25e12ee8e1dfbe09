"""What every builder shares: the desired-object wrapper, owner references and metadata."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ccoperator import labels

Manifest = dict[str, Any]


@dataclass(frozen=True)
class Owner:
    """The ContactCenter that owns the objects (garbage collection deletes them with it)."""

    name: str
    namespace: str
    uid: str


@dataclass(frozen=True)
class BuildSettings:
    """Everything a manifest needs that is not in the spec: operator defaults and cluster facts."""

    image: str
    nats_url: str
    otel_endpoint: str = ""
    #: The services' OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG; empty: not set.
    traces_sampler: str = ""
    traces_sampler_arg: str = ""
    #: KEDA's CRDs exist in the cluster, so `autoscaling.mode: keda` can become a ScaledObject.
    keda_available: bool = False
    #: Used only when the auth Secret does not exist yet (it is never rotated behind a user's back).
    new_auth_secret: str = ""


@dataclass(frozen=True)
class DesiredObject:
    manifest: Manifest
    #: Created when missing, never patched: a Secret's generated value must not change on every pass.
    create_only: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def kind(self) -> str:
        return str(self.manifest["kind"])

    @property
    def name(self) -> str:
        return str(self.manifest["metadata"]["name"])

    @property
    def key(self) -> str:
        return f"{self.kind}/{self.name}"


def owner_reference(owner: Owner) -> dict[str, Any]:
    return {
        "apiVersion": labels.CR_API_VERSION,
        "kind": labels.KIND,
        "name": owner.name,
        "uid": owner.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def metadata(owner: Owner, name: str, object_labels: dict[str, str]) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": owner.namespace,
        "labels": dict(object_labels),
        "ownerReferences": [owner_reference(owner)],
    }
