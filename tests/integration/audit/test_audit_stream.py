"""The audit log on a real nats-server: batched appends arrive once each, even when the stream
appears only after records were accepted; queries filter and page without losing or repeating."""

from __future__ import annotations

import pytest
from _platform import eventually
from nats.aio.client import Client as NATS

from ccmesh import naming
from ccmesh.audit import AuditLog, AuditRecord
from ccmesh.audit_query import AuditQuery, query_audit
from ccmesh.retention import BY_KEY
from ccmesh.stores import ensure_store

pytestmark = pytest.mark.timeout(60)
REGION = "eu"
STATS = "/contactcenter.routing.v1.RoutingService/GetQueueStats"
CONFIGURE = "/contactcenter.routing.v1.RoutingService/ConfigureQueue"


def _record(i: int, tenant: str = "acme") -> AuditRecord:
    return AuditRecord(
        at=1_000_000.0 + i,
        region=REGION,
        tenant_id=tenant,
        actor=f"user-{i % 3}",
        role="supervisor" if i % 2 else "admin",
        action=STATS if i % 2 else CONFIGURE,
        target=f"queue=q{i % 5}",
    )


async def test_records_accepted_before_the_stream_exists_arrive_once(nc: NATS) -> None:
    js = nc.jetstream()
    log = AuditLog(js, REGION, batch_size=50, ack_timeout_seconds=1.0)
    log.start()
    for i in range(120):
        await log.append(_record(i))

    # Nothing can be written yet: the batches are kept and retried, never dropped.
    async def retried() -> bool:
        return log.retries > 0

    await eventually(retried)
    await ensure_store(js, BY_KEY["auditLog"], REGION, BY_KEY["auditLog"].defaults)
    await log.flush()
    await log.stop()
    info = await js.stream_info(naming.audit_stream(REGION).name)
    assert info.config.max_age == BY_KEY["auditLog"].defaults.max_age_seconds
    page = await query_audit(js, REGION, AuditQuery(tenant_id="acme", limit=1000))
    assert sorted(r.at for r in page.records) == [1_000_000.0 + i for i in range(120)]
    assert len({r.record_id for r in page.records}) == 120


async def test_queries_filter_by_tenant_time_and_fields_and_page_through_everything(nc: NATS) -> None:
    js = nc.jetstream()
    await ensure_store(js, BY_KEY["auditLog"], REGION, BY_KEY["auditLog"].defaults)
    log = AuditLog(js, REGION)
    log.start()
    for i in range(600):
        await log.append(_record(i, tenant="acme" if i % 4 else "globex"))
    await log.stop()
    assert log.written == 600

    reads = await query_audit(js, REGION, AuditQuery(tenant_id="acme", kind="read", limit=1000))
    assert reads.records and all(r.kind == "read" and r.action == STATS for r in reads.records)
    assert all(r.tenant_id == "acme" for r in reads.records)
    expected_reads = [i for i in range(600) if i % 4 and i % 2]
    assert [r.at - 1_000_000.0 for r in reads.records] == expected_reads

    narrowed = await query_audit(
        js,
        REGION,
        AuditQuery(
            tenant_id="acme",
            actor="user-1",
            target="queue=q2",
            since=1_000_100.0,
            until=1_000_400.0,
            limit=1000,
        ),
    )
    wanted = [i for i in range(100, 401) if i % 4 and i % 3 == 1 and i % 5 == 2]
    assert [int(r.at - 1_000_000.0) for r in narrowed.records] == wanted

    # Pages of 37 cover the tenant's 450 records once each, in order.
    seen: list[float] = []
    after = 0
    while True:
        page = await query_audit(js, REGION, AuditQuery(tenant_id="acme", limit=37, after_sequence=after))
        seen += [r.at for r in page.records]
        if not page.next_sequence:
            break
        after = page.next_sequence
    assert seen == [1_000_000.0 + i for i in range(600) if i % 4]

    with pytest.raises(ValueError, match="limit: must be between 1 and 1000"):
        await query_audit(js, REGION, AuditQuery(tenant_id="acme", limit=0))
