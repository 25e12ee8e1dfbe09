"""The signed report an erasure returns: what was removed where, for `ccctl retention verify`."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from ccmesh.retention_erasure import ErasureReport, sign
from identity.domain.customer import Customer


def signed_report(
    secret: str,
    *,
    customer: Customer,
    region: str,
    actor: str,
    reason: str,
    removed: Mapping[str, int],
    tombstone: str,
    incomplete: Sequence[str] = (),
) -> tuple[str, str]:
    """The report's canonical text and its signature with the region's `secret`."""
    report = ErasureReport(
        tenant_id=customer.tenant_id,
        customer_id=customer.customer_id,
        region=region,
        erased_at=time.time(),
        actor=actor,
        reason=reason,
        removed=removed,
        tombstone=tombstone,
        incomplete=incomplete,
    ).canonical()
    return report, sign(report, secret)
