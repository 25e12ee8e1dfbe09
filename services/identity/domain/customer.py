"""The customer profile as stored: pure data with its (de)serialisation and attribute limits."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import orjson

from identity.domain.identifiers import Identifier, IdentifierKind

#: A customer id becomes a KV key token: a dot or wildcard would reach into another scope.
CUSTOMER_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_ATTRIBUTES = 100
MAX_ATTRIBUTE_BYTES = 16 * 1024


class InvalidAttributes(ValueError):
    """An attribute map is too large; the message names the limit."""


def check_attributes(attributes: Mapping[str, str]) -> dict[str, str]:
    if len(attributes) > MAX_ATTRIBUTES:
        raise InvalidAttributes(f"attributes: {len(attributes)} entries; the maximum is {MAX_ATTRIBUTES}")
    size = sum(len(k.encode()) + len(v.encode()) for k, v in attributes.items())
    if size > MAX_ATTRIBUTE_BYTES:
        raise InvalidAttributes(f"attributes: {size} bytes in all; the maximum is {MAX_ATTRIBUTE_BYTES}")
    if any(not key for key in attributes):
        raise InvalidAttributes("attributes: keys must not be empty")
    return dict(attributes)


@dataclass(frozen=True)
class Customer:
    customer_id: str
    tenant_id: str
    scope: str
    home_region: str
    identifiers: tuple[Identifier, ...]
    attributes: dict[str, str] = field(default_factory=dict)
    created_at: float = 0.0
    #: Customers folded into this one (their histories are read with this one's).
    merged_from: tuple[str, ...] = ()
    #: Set when this customer was folded into another one.
    merged_into: str = ""

    def with_identifiers(self, extra: list[Identifier]) -> Customer:
        merged = list(self.identifiers)
        merged.extend(i for i in extra if i not in merged)
        return replace(self, identifiers=tuple(merged))

    def without_identifiers(self, removed: tuple[Identifier, ...]) -> Customer:
        return replace(self, identifiers=tuple(i for i in self.identifiers if i not in removed))

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
                "merged_from": list(self.merged_from),
                "merged_into": self.merged_into,
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
            merged_from=tuple(raw.get("merged_from", ())),
            merged_into=str(raw.get("merged_into", "")),
        )
