"""Data residency: keyed hashes for the global index, pseudonymous references, crossing rules.

The global index maps `HMAC(tenant key, kind:value)` to the home region. The tenant key is
derived from the platform's index secret and the tenant id, so one tenant's hashes say
nothing about another's, and nobody without the secret can test a phone number against it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum

from identity.domain.identifiers import Identifier


class CrossingKind(StrEnum):
    #: The profile (personal data) is sent to the requesting region.
    PERSONAL = "personal"
    #: Only the home region and a keyed reference are sent.
    PSEUDONYMOUS = "pseudonymous"
    #: The policy names the requesting region nowhere: only the home region is told.
    NONE = "none"
    #: Personal data shown to an agent of another region at view time, never stored there
    #: (a contact handed over by follow-the-sun).
    VIEW = "view"


@dataclass(frozen=True)
class IndexKeys:
    secret: bytes

    def tenant_key(self, tenant_id: str) -> bytes:
        return hmac.new(self.secret, f"tenant:{tenant_id}".encode(), hashlib.sha256).digest()

    def identifier_hash(self, tenant_id: str, identifier: Identifier) -> str:
        """`<kind>.<hex>`: subject-safe, keyed, never the identifier itself."""
        mac = hmac.new(self.tenant_key(tenant_id), f"{identifier.kind}:{identifier.value}".encode(), "sha256")
        return f"{identifier.kind}.{mac.hexdigest()[:48]}"

    def reference(self, tenant_id: str, home_region: str, customer_id: str) -> str:
        mac = hmac.new(self.tenant_key(tenant_id), f"ref:{home_region}:{customer_id}".encode(), "sha256")
        return f"psr_{mac.hexdigest()[:40]}"


def crossing_kind(
    requesting_region: str, personal_data_regions: Collection[str], pseudonymous_regions: Collection[str]
) -> CrossingKind:
    if requesting_region in personal_data_regions:
        return CrossingKind.PERSONAL
    if requesting_region in pseudonymous_regions:
        return CrossingKind.PSEUDONYMOUS
    return CrossingKind.NONE
