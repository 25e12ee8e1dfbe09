"""Audit records of config-plane changes: which tenant, in which region, a stored document concerns.

A ContactCenter concerns each of its tenants in its region; a document of one tenant (an
integration, a surge policy...) concerns that tenant in every region that serves it. A change
is recorded once per (region, tenant), so each tenant's admins and auditors find it in the
region it takes effect in.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError

from ccmesh import naming
from ccmesh.audit import CHANGE, AuditLog, AuditRecord

#: The action of a stored config-plane document, e.g. `config.apply ContactCenter/eu`.
APPLY = "config.apply"


def _spec(document: Any) -> Any:
    return getattr(document, "spec", None)


def concerned(document: Any, contact_centers: Iterable[Any]) -> list[tuple[str, str]]:
    """(region, tenant) pairs the document concerns, sorted; empty when it names no tenant."""
    spec = _spec(document)
    if getattr(document, "kind", "") == "ContactCenter" and spec is not None:
        return sorted((spec.region, tenant.id) for tenant in spec.tenants)
    tenant = getattr(spec, "tenant", None)
    if not isinstance(tenant, str) or not tenant:
        return []
    regions = sorted(
        {
            center.spec.region
            for center in contact_centers
            if any(known.id == tenant for known in center.spec.tenants)
        }
    )
    return [(region, tenant) for region in regions]


def config_change_records(
    document: Any,
    *,
    kind: str,
    name: str,
    generation: int,
    actor: str,
    contact_centers: Iterable[Any],
    at: float | None = None,
) -> list[AuditRecord]:
    """One change record per (region, tenant) that the stored `document` concerns."""
    when = time.time() if at is None else at
    return [
        AuditRecord(
            at=when,
            region=region,
            tenant_id=tenant,
            actor=actor,
            role="admin",
            action=f"{APPLY} {kind}/{name}",
            target=f"document={kind}/{name} generation={generation}",
            kind=CHANGE,
        )
        for region, tenant in concerned(document, contact_centers)
    ]


async def write_records(js: JetStreamContext, records: Iterable[AuditRecord]) -> list[str]:
    """Write `records` to their regions' audit streams now; the notes name regions whose
    stream does not exist yet (its services create it on their first start)."""
    by_region: dict[str, list[AuditRecord]] = {}
    for record in records:
        by_region.setdefault(record.region, []).append(record)
    notes = []
    for region, listed in sorted(by_region.items()):
        try:
            await js.stream_info(naming.audit_stream(region).name)
        except NotFoundError:
            notes.append(
                f"region {region}: no audit stream yet (its services create it on start); "
                f"{len(listed)} change record(s) not written"
            )
            continue
        log = AuditLog(js, region)
        log.start()
        for record in listed:
            await log.append(record)
        await log.stop(grace_seconds=10.0)
    return notes
