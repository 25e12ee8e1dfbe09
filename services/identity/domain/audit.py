"""Audit records: who did what to which customer, when and why (no personal data inside)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import orjson

# AuditAction numbers of the proto.
MERGE, UNMERGE, ERASURE, CROSSING = 1, 2, 3, 4


@dataclass(frozen=True)
class AuditRecord:
    audit_id: str
    action: int
    actor: str
    at: float
    reason: str
    target_customer_id: str
    source_customer_id: str
    #: Identifiers that moved, as `<kind>.<hash>` tokens.
    moved_identifiers: tuple[str, ...] = ()

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def from_json(cls, data: bytes) -> AuditRecord:
        raw = orjson.loads(data)
        raw["moved_identifiers"] = tuple(raw.get("moved_identifiers", ()))
        return cls(**raw)


@dataclass(frozen=True)
class CrossingRecord:
    crossing_id: str
    customer_id: str
    from_region: str
    to_region: str
    kind: str
    actor: str
    at: float

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def from_json(cls, data: bytes) -> CrossingRecord:
        return cls(**orjson.loads(data))
