"""Versions and aliases of a published flow (pure domain; the routing service stores it in KV).

Publishing makes an immutable version numbered 1, 2, 3...; republishing identical sources
makes no new version. An alias (`live`, `canary`...) points at a version and may send a
percentage of new contacts to a second version; the split is a hash of the contact id, so a
contact always gets the same version. Rollback is pointing the alias back.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any

BUCKETS = 10_000


class RegistryError(ValueError):
    """An alias that names a version that does not exist, or a bad percentage."""


@dataclass
class Alias:
    version: int
    canary_version: int = 0
    canary_percent: float = 0.0


@dataclass
class FlowIndex:
    flow: str
    latest: int = 0
    digests: dict[str, int] = field(default_factory=dict)
    aliases: dict[str, Alias] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FlowIndex:
        aliases = {name: Alias(**alias) for name, alias in data.get("aliases", {}).items()}
        return cls(flow=data["flow"], latest=data["latest"], digests=dict(data["digests"]), aliases=aliases)


def digest_of(files: list[tuple[str, str]]) -> str:
    hasher = hashlib.sha256()
    for name, text in sorted(files):
        hasher.update(name.encode() + b"\0" + text.encode() + b"\0")
    return hasher.hexdigest()


def publish(index: FlowIndex, digest: str) -> tuple[int, bool]:
    """(version, created): the version of these sources, new unless identical ones exist."""
    existing = index.digests.get(digest)
    if existing:
        return existing, False
    index.latest += 1
    index.digests[digest] = index.latest
    return index.latest, True


def set_alias(
    index: FlowIndex, alias: str, version: int, canary_version: int = 0, canary_percent: float = 0.0
) -> Alias:
    for wanted in (version, canary_version):
        if wanted and not 1 <= wanted <= index.latest:
            raise RegistryError(
                f"flow {index.flow!r} has no version {wanted} (published: 1..{index.latest})"
                if index.latest
                else f"flow {index.flow!r} has no published version"
            )
    if version < 1:
        raise RegistryError(f"alias {alias!r} must point at a version >= 1, got {version}")
    if not 0.0 <= canary_percent <= 100.0:
        raise RegistryError(f"canary percent must be within 0..100, got {canary_percent}")
    if canary_percent and not canary_version:
        raise RegistryError("a canary percentage needs a canary version")
    index.aliases[alias] = Alias(version, canary_version, canary_percent if canary_version else 0.0)
    return index.aliases[alias]


def bucket_of(flow: str, alias: str, contact_id: str) -> int:
    digest = hashlib.sha256(f"{flow}/{alias}/{contact_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def pick_version(index: FlowIndex, alias: str, contact_id: str) -> int:
    target = index.aliases.get(alias)
    if target is None:
        raise RegistryError(f"flow {index.flow!r} has no alias {alias!r}; aliases: {sorted(index.aliases)}")
    if (
        target.canary_version
        and bucket_of(index.flow, alias, contact_id) < target.canary_percent * BUCKETS / 100
    ):
        return target.canary_version
    return target.version
