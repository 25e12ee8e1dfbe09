"""Audit records: what the access check records, for whom, and the query's parameter checks."""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from ccctl.main import main as ccctl
from ccmesh.access import AccessControl
from ccmesh.audit import AuditRecord, kind_of, pack, target_of, unpack
from ccmesh.audit_config import concerned, config_change_records
from ccmesh.audit_query import AuditQuery
from ccmesh.auth import TokenAuthority
from ccmesh.configplane.loader import parse_documents
from ccmesh.rpc_context import AbortRpc, NatsServicerContext, current_method, current_request
from contactcenter.identity.v1 import identity_pb2
from contactcenter.routing.v1 import routing_pb2

SECRET = "audit-secret-audit-secret"
STATS = "/contactcenter.routing.v1.RoutingService/GetQueueStats"


class RecordingLog:
    """The audit log's append, keeping what it was given."""

    def __init__(self) -> None:
        self.records: list[AuditRecord] = []

    async def append(self, record: AuditRecord) -> None:
        self.records.append(record)


@pytest.fixture
def authority() -> TokenAuthority:
    return TokenAuthority(SECRET)


def _context(token: str) -> NatsServicerContext:
    return NatsServicerContext({"authorization": f"Bearer {token}"}, deadline=1e12, peer="test")


def _in_call(path: str, request: Any) -> None:
    current_method.set(path)
    current_request.set(request)


@pytest.mark.parametrize(
    ("action", "kind"),
    [
        (STATS, "read"),
        ("/contactcenter.identity.v1.IdentityService/ListAuditRecords", "read"),
        ("/contactcenter.integration.v1.IntegrationService/ExportContacts", "read"),
        ("/contactcenter.routing.v1.RoutingService/ConfigureQueue", "change"),
        ("/contactcenter.identity.v1.IdentityService/ForgetCustomer", "change"),
        ("config.apply ContactCenter/eu", "change"),
        ("GET /v1/tenants/acme/queues", "read"),
        ("POST /v1/tenants/acme/messages", "change"),
    ],
)
def test_actions_are_reads_or_changes(action: str, kind: str) -> None:
    assert kind_of(action) == kind


def test_the_target_names_identifiers_never_free_text() -> None:
    request = identity_pb2.MergeCustomersRequest(
        target_customer_id="c-1", source_customer_id="c-2", reason="same person, Jane Doe"
    )
    request.tenant.brand_id = "retail"
    assert target_of(request) == "source_customer_id=c-2 target_customer_id=c-1 brand_id=retail"
    assert target_of(routing_pb2.GetQueueStatsRequest(tenant_id="acme", queue="billing")) == "queue=billing"
    # A definition being changed is named by its name.
    configure = routing_pb2.ConfigureQueueRequest(
        tenant_id="acme", queue=routing_pb2.QueueDefinition(name="billing", required_skills=["en"])
    )
    assert target_of(configure) == "queue=billing"


@pytest.mark.parametrize("role", ["admin", "supervisor", "agent", "integration", "auditor"])
async def test_each_role_s_call_is_recorded_with_who_what_where(authority: TokenAuthority, role: str) -> None:
    log = RecordingLog()
    access = AccessControl(authority, region="eu", audit=log)  # type: ignore[arg-type]
    _in_call(STATS, routing_pb2.GetQueueStatsRequest(tenant_id="acme", queue="billing"))
    await access.require(_context(authority.mint("acme", role, f"{role}-1")), "acme", {role})
    [record] = log.records
    record.finish()
    assert (record.tenant_id, record.actor, record.role, record.region) == ("acme", f"{role}-1", role, "eu")
    assert (record.action, record.kind, record.target, record.outcome) == (
        STATS,
        "read",
        "queue=billing",
        "allowed",
    )
    assert record.at > 0


async def test_a_refused_call_is_recorded_with_its_reason(authority: TokenAuthority) -> None:
    log = RecordingLog()
    access = AccessControl(authority, region="eu", audit=log)  # type: ignore[arg-type]
    _in_call("/contactcenter.identity.v1.IdentityService/QueryAudit", identity_pb2.QueryAuditRequest())
    with pytest.raises(AbortRpc) as caught:
        await access.require(_context(authority.mint("acme", "agent", "ann")), "acme", {"admin", "auditor"})
    assert caught.value.code is grpc.StatusCode.PERMISSION_DENIED
    [record] = log.records
    assert (record.actor, record.role, record.outcome) == ("ann", "agent", "denied")
    assert "role 'agent' may not call this method" in record.reason


async def test_a_queue_outside_the_scope_is_recorded_as_denied(authority: TokenAuthority) -> None:
    log = RecordingLog()
    access = AccessControl(authority, region="eu", audit=log)  # type: ignore[arg-type]
    _in_call(STATS, routing_pb2.GetQueueStatsRequest(tenant_id="acme", queue="b"))
    context = _context(authority.mint("acme", "supervisor", "sam", queues=["a"]))
    caller = await access.require(context, "acme", {"supervisor"})
    with pytest.raises(AbortRpc):
        await access.require_queue(context, caller, "b")
    assert [r.outcome for r in log.records] == ["allowed", "denied"]


async def test_calls_between_services_are_not_recorded(authority: TokenAuthority) -> None:
    log = RecordingLog()
    access = AccessControl(authority, region="eu", audit=log)  # type: ignore[arg-type]
    await access.require(_context(authority.mint("*", "service", "gateway")), "acme", {"admin"})
    assert log.records == []


def test_a_record_survives_its_json() -> None:
    record = AuditRecord(
        1.5, "eu", "acme", "ada", "admin", STATS, target="queue=a", kind="read", record_id="x1"
    )
    assert AuditRecord.from_json(record.to_json()) == record


@pytest.mark.parametrize(
    ("query", "named"),
    [
        (AuditQuery(tenant_id=""), "tenant_id"),
        (AuditQuery(tenant_id="acme", limit=0), "limit"),
        (AuditQuery(tenant_id="acme", limit=5000), "limit"),
        (AuditQuery(tenant_id="acme", kind="write"), "kind"),
        (AuditQuery(tenant_id="acme", outcome="maybe"), "outcome"),
        (AuditQuery(tenant_id="acme", since=10, until=5), "since (10) is after until (5)"),
        (AuditQuery(tenant_id="acme", since=float("nan")), "since"),
        (AuditQuery(tenant_id="acme", after_sequence=-1), "after_sequence"),
    ],
)
def test_a_bad_query_names_its_parameter(query: AuditQuery, named: str) -> None:
    assert any(named in problem for problem in query.problems())


_CENTER = """
apiVersion: contactcenter.dev/v1alpha1
kind: ContactCenter
metadata: {name: eu}
spec:
  region: eu
  tenants:
    - id: acme
      displayName: Acme
    - id: globex
      displayName: Globex
"""


def test_a_config_change_is_recorded_for_each_tenant_it_concerns() -> None:
    [center] = [sourced.document for sourced in parse_documents(_CENTER, "eu.yaml")]
    assert concerned(center, [center]) == [("eu", "acme"), ("eu", "globex")]
    records = config_change_records(
        center,
        kind="ContactCenter",
        name="eu",
        generation=3,
        actor="ops-ada",
        contact_centers=[center],
        at=9.0,
    )
    assert {(r.tenant_id, r.actor, r.role, r.kind, r.action) for r in records} == {
        (tenant, "ops-ada", "admin", "change", "config.apply ContactCenter/eu")
        for tenant in ("acme", "globex")
    }
    assert all(r.target == "document=ContactCenter/eu generation=3" for r in records)


def test_a_batch_is_packed_per_tenant_into_messages_that_unpack_to_it() -> None:
    batch = [
        AuditRecord(float(i), "eu", "acme" if i % 3 else "globex", "ada", "admin", STATS, record_id=f"r{i}")
        for i in range(600)
    ]
    messages = pack("eu", batch)
    assert [(subject, len(unpack(data))) for subject, data, _ in messages] == [
        ("ccaudit.eu.globex", 200),
        ("ccaudit.eu.acme", 256),
        ("ccaudit.eu.acme", 144),
    ]
    assert len({message_id for _, _, message_id in messages}) == 3
    unpacked = [record for _, data, _ in messages for record in unpack(data)]
    assert sorted(unpacked, key=lambda r: r.at) == batch


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--since", "yesterday"], "--since: 'yesterday' is not an ISO 8601 time"),
        (["--limit", "0"], "--limit: must be between 1 and 1000"),
        (["--kind", "write"], "invalid choice: 'write'"),
    ],
)
def test_ccctl_audit_names_a_bad_parameter_before_asking(
    args: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # The NATS URL leads nowhere: the command must stop at the parameter, never reach the network.
    assert ccctl(["audit", "--tenant", "acme", "--nats-url", "nats://127.0.0.1:1", *args]) == 2
    assert named in capsys.readouterr().err
