"""Bring the cluster's objects to the desired manifests: create what is missing, patch what drifted.

(Deleting what is no longer wanted is `ccoperator.prune`.)

Drift is "a field we set has another value", not "the objects differ": the API server adds defaults
and status that we never set, and those must not trigger a patch on every pass.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ccoperator.builders import DesiredObject
from ccoperator.kube.client import KubeApiError, KubeClient
from ccoperator.kube.resources import kind_of


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
