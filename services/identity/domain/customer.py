"""The customer profile as stored: pure data with its (de)serialisation."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import orjson

from identity.domain.identifiers import Identifier, IdentifierKind

MAX_ATTRIBUTES = 100
MAX_ATTRIBUTE_BYTES = 16 * 1024


@dataclass(frozen=True)
class Customer:
    customer_id: str
    tenant_id: str
    scope: str
    home_region: str
    identifiers: tuple[Identifier, ...]
    attributes: dict[str, str] = field(default_factory=dict)
    created_at: float = 0.0

    def with_identifiers(self, extra: list[Identifier]) -> Customer:
        merged = list(self.identifiers)
        merged.extend(i for i in extra if i not in merged)
        return replace(self, identifiers=tuple(merged))

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "customer_id": self.customer_id,
                "tenant_id": self.tenant_id,
                "scope": self.scope,
                "home_region": self.home_region,
                "identifiers": [{"kind": str(i.kind), "value": i.value} for i in self.identifiers],
                "attributes": self.attributes,
                "created_at": self.created_at,
            }
        )

    @classmethod
    def from_json(cls, data: bytes) -> Customer:
        raw = orjson.loads(data)
        return cls(
            customer_id=raw["customer_id"],
            tenant_id=raw["tenant_id"],
            scope=raw["scope"],
            home_region=raw["home_region"],
            identifiers=tuple(Identifier(IdentifierKind(i["kind"]), i["value"]) for i in raw["identifiers"]),
            attributes=dict(raw.get("attributes", {})),
            created_at=float(raw.get("created_at", 0.0)),
        )
