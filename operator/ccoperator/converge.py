"""Bring the cluster's objects to the desired manifests: create what is missing, patch what drifted,
and delete what this ContactCenter owns but no longer wants (a replaced or disabled autoscaler).

Drift is "a field we set has another value", not "the objects differ": the API server adds defaults
and status that we never set, and those must not trigger a patch on every pass.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from ccoperator import labels
from ccoperator.builders import DesiredObject, Owner
from ccoperator.kube.client import KubeApiError, KubeClient
from ccoperator.kube.resources import KINDS, kind_of

#: Kinds whose objects come and go with the spec (the rest always exist while the resource does).
#: Only these are listed and pruned, and the chart grants `list`/`delete` on exactly these.
PRUNABLE_KINDS: Final = ("HorizontalPodAutoscaler", "ScaledObject")


def contains(actual: Any, desired: Any) -> bool:
    """Every value set in `desired` has the same value in `actual` (lists compared item by item)."""
    if isinstance(desired, dict):
        return isinstance(actual, dict) and all(
            key in actual and contains(actual[key], value) for key, value in desired.items()
        )
    if isinstance(desired, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(desired)
            and all(contains(a, d) for a, d in zip(actual, desired, strict=True))
        )
    return bool(actual == desired)


@dataclass
class ConvergeReport:
    created: list[str] = field(default_factory=list)
    patched: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    pruned: list[str] = field(default_factory=list)
    actual: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def changed(self) -> list[str]:
        return self.created + self.patched


def _comparable(manifest: dict[str, Any]) -> dict[str, Any]:
    # stringData is write-only: the API server folds it into `data`, so it never reads back.
    return {k: v for k, v in manifest.items() if k != "stringData"}


async def converge_one(kube: KubeClient, desired: DesiredObject, report: ConvergeReport) -> None:
    kind = kind_of(desired.manifest)
    namespace = desired.manifest["metadata"].get("namespace")
    actual = await kube.get(kind, namespace, desired.name)
    if actual is None:
        try:
            actual = await kube.create(kind, namespace, desired.manifest)
            report.created.append(desired.key)
        except KubeApiError as error:
            if error.status != 409:
                raise
            # Another pass created it in between; converge against what is there now.
            actual = await kube.get(kind, namespace, desired.name) or {}
    if desired.key not in report.created:
        if desired.create_only or contains(actual, _comparable(desired.manifest)):
            report.unchanged.append(desired.key)
        else:
            actual = await kube.merge_patch(kind, namespace, desired.name, desired.manifest) or actual
            report.patched.append(desired.key)
    report.actual[desired.key] = actual


async def converge(kube: KubeClient, objects: Sequence[DesiredObject]) -> ConvergeReport:
    report = ConvergeReport()
    # Independent objects, so in parallel: a region's ~25 objects cost one round trip, not 25.
    await asyncio.gather(*(converge_one(kube, desired, report) for desired in objects))
    return report


def owned_by(obj: dict[str, Any], owner: Owner) -> bool:
    """Carries this ContactCenter's ownership labels and its controller owner reference (same uid)."""
    metadata = obj.get("metadata") or {}
    object_labels = metadata.get("labels") or {}
    if object_labels.get("app.kubernetes.io/managed-by") != labels.MANAGED_BY:
        return False
    if object_labels.get("app.kubernetes.io/instance") != owner.name:
        return False
    return any(
        reference.get("kind") == labels.KIND
        and reference.get("apiVersion") == labels.CR_API_VERSION
        and reference.get("uid") == owner.uid
        and reference.get("controller") is True
        for reference in metadata.get("ownerReferences") or []
    )


async def prune(
    kube: KubeClient,
    owner: Owner,
    desired: Sequence[DesiredObject],
    report: ConvergeReport,
    kinds: Sequence[str] = PRUNABLE_KINDS,
) -> None:
    """Delete objects of `kinds` that this ContactCenter owns and the desired set no longer holds."""
    if not owner.uid:
        return  # without a uid nothing can be proven ours
    wanted = {d.key for d in desired}
    selector = f"app.kubernetes.io/managed-by={labels.MANAGED_BY},app.kubernetes.io/instance={owner.name}"

    async def prune_kind(kind: str) -> None:
        try:
            items = await kube.list(KINDS[kind], owner.namespace, selector)
        except KubeApiError as error:
            if error.status == 403:  # not allowed to list: nothing we may prune
                return
            raise
        for item in items or []:  # None: the kind is not served (KEDA not installed)
            name = str((item.get("metadata") or {}).get("name", ""))
            key = f"{kind}/{name}"
            if not name or key in wanted or not owned_by(item, owner):
                continue
            if (item.get("metadata") or {}).get("deletionTimestamp"):
                continue
            await kube.delete(KINDS[kind], owner.namespace, name)
            report.pruned.append(key)

    await asyncio.gather(*(prune_kind(kind) for kind in kinds))
    report.pruned.sort()
