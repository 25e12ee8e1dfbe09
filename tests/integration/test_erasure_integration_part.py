"""Integration's part of an erasure over the mesh, on a real nats-server: `EraseCustomerData`
purges the dead letters of the person's contacts and leaves everyone else's, and bad input is
refused naming the field, with nothing removed."""

from __future__ import annotations

import grpc
import pytest
from _platform import REGION, Platform

from ccmesh import naming
from ccmesh.envelope import new_event
from ccmesh.status import RpcError
from contactcenter.events.v1 import events_pb2
from contactcenter.integration.v1 import integration_pb2 as pb
from contactcenter.integration.v1.integration_pb2_grpc import IntegrationServiceStub
from integration.adapters.dead_letters import DeadLetterStore

pytestmark = pytest.mark.timeout(60)


def closed(contact_id: str) -> events_pb2.Event:
    return new_event(
        events_pb2.ContactClosed(), tenant_id="acme", region=REGION, source="test", contact_id=contact_id
    )


async def test_dead_letters_of_the_persons_contacts_go_and_bad_input_removes_nothing(
    platform: Platform,
) -> None:
    await platform.start("integration")
    kv = await platform.nc.jetstream().key_value(naming.integration_bucket(REGION))
    letters = DeadLetterStore(kv)
    for contact_id in ("c-person-1", "c-person-2", "c-bystander"):
        await letters.put("acme", "crm", closed(contact_id), 5, "HTTP 500")
    integration = platform.stub(IntegrationServiceStub, tenant="acme", role="service")

    bad = [
        (pb.EraseCustomerDataRequest(tenant_id="acme", contact_ids=["c-person-1"]), "customer_ids"),
        (
            pb.EraseCustomerDataRequest(tenant_id="acme", customer_ids=["p1"], contact_ids=["c.>"]),
            "contact_ids",
        ),
        (pb.EraseCustomerDataRequest(tenant_id="acme", customer_ids=["p 1"]), "customer_ids"),
    ]
    for request, field in bad:
        with pytest.raises(RpcError) as caught:
            await integration.EraseCustomerData(request)
        assert caught.value.code is grpc.StatusCode.INVALID_ARGUMENT and field in caught.value.message
    assert len(await letters.list("acme", "crm")) == 3

    reply = await integration.EraseCustomerData(
        pb.EraseCustomerDataRequest(
            tenant_id="acme", customer_ids=["person-1"], contact_ids=["c-person-1", "c-person-2"]
        )
    )
    assert dict(reply.removed) == {f"KV_{naming.integration_bucket(REGION)}": 2}
    assert [letter.event.contact_id for letter in await letters.list("acme", "crm")] == ["c-bystander"]
