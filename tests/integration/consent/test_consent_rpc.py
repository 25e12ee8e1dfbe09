"""RecordConsent, WithdrawConsent and ListConsents through the identity service on a real
nats-server: bad input named (INVALID_ARGUMENT / NOT_FOUND) with nothing stored, repeats recorded
once, the history complete, what stands now in one read, ConsentChanged on the stream."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from _platform import REGION, Platform

from ccmesh import naming, stream_read
from ccmesh.status import RpcError
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from contactcenter.identity.v1 import identity_pb2 as pb
from contactcenter.identity.v1.identity_pb2_grpc import IdentityServiceStub

pytestmark = pytest.mark.timeout(60)

ACME = common_pb2.TenantRef(tenant_id="acme", brand_id="acme-retail")


async def _consent_events(platform: Platform) -> list[events_pb2.Event]:
    subject = naming.event_subject(REGION, "acme", "consent_changed", "*")
    return [
        events_pb2.Event.FromString(m.data)
        async for m in stream_read.stored(
            platform.nc.jetstream(), subject, stream=naming.events_stream(REGION).name
        )
    ]


async def test_consent_through_the_identity_service(platform: Platform) -> None:
    await platform.start("identity")
    admin = platform.stub(IdentityServiceStub, tenant="acme", role="admin")
    made = await admin.ResolveCustomer(
        pb.ResolveCustomerRequest(
            tenant=ACME,
            identifiers=[common_pb2.Identifier(kind=common_pb2.IDENTIFIER_KIND_PHONE, value="+4930555999")],
        )
    )
    customer = made.customer.customer_id
    agent = platform.stub(IdentityServiceStub, tenant="acme", role="agent")

    def grant(**fields: Any) -> pb.RecordConsentRequest:
        return pb.RecordConsentRequest(
            **{"tenant": ACME, "customer_id": customer, "purpose": "recording", "source": "ivr", **fields}
        )

    bad: list[tuple[Any, grpc.StatusCode, str]] = [
        (
            grant(purpose="recordings"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "purpose: unknown purpose 'recordings'",
        ),
        (grant(source=""), grpc.StatusCode.INVALID_ARGUMENT, "source: required"),
        (grant(record_id="a.b"), grpc.StatusCode.INVALID_ARGUMENT, "record_id"),
        (grant(customer_id="nobody"), grpc.StatusCode.NOT_FOUND, "customer 'nobody' not found"),
        (grant(customer_id="a.b"), grpc.StatusCode.INVALID_ARGUMENT, "customer_id"),
    ]
    for request, code, named in bad:
        with pytest.raises(RpcError) as refused:
            await agent.RecordConsent(request)
        assert (refused.value.code, named in refused.value.message) == (code, True), refused.value
    assert (await agent.ListConsents(pb.ListConsentsRequest(tenant=ACME, customer_id=customer))).records == []

    first = await agent.RecordConsent(grant(record_id="ivr-1", policy_version="prompt-v2", contact_id="k-1"))
    again = await agent.RecordConsent(grant(record_id="ivr-1", policy_version="prompt-v2", contact_id="k-1"))
    assert (first.recorded, again.recorded) == (True, False)
    assert again.record == first.record and first.record.recorded_by
    await agent.RecordConsent(grant(purpose="marketing", source="chat"))
    withdrawn = await agent.WithdrawConsent(
        pb.WithdrawConsentRequest(tenant=ACME, customer_id=customer, purpose="recording", source="api")
    )
    assert not withdrawn.record.granted

    listed = await agent.ListConsents(pb.ListConsentsRequest(tenant=ACME, customer_id=customer))
    assert [(r.purpose, r.granted, r.source) for r in listed.records] == [
        ("recording", True, "ivr"),
        ("marketing", True, "chat"),
        ("recording", False, "api"),
    ]
    assert listed.records[0].policy_version == "prompt-v2" and listed.records[0].contact_id == "k-1"
    assert dict(listed.current) == {"recording": False, "marketing": True}
    summary = await agent.ListConsents(
        pb.ListConsentsRequest(tenant=ACME, customer_id=customer, current_only=True)
    )
    assert (list(summary.records), dict(summary.current)) == ([], {"recording": False, "marketing": True})

    announced = await _consent_events(platform)
    assert sorted(e.consent_changed.record_id for e in announced) == sorted(
        r.record_id for r in listed.records
    )
    assert {e.contact_id for e in announced} == {"k-1", f"consent-{customer}"}
