"""The README's curl example, walked as a newcomer walks it: the message reaches an agent.

A tenant API message without `entryPoint` enters through the tenant's `defaultEntryPoint`
(examples/eu.yaml: acme-uk-sms, brand acme-retail, queue support), so it is queued and offered,
and its customer is the one who later writes by SMS from the same number. Bad input (an unknown
entry point, a brand the entry point does not serve) is a 400 naming the field, stores nothing,
and the next good message is accepted.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson
import pytest

from contactcenter.common.v1 import common_pb2
from contactcenter.identity.v1 import identity_pb2
from contactcenter.identity.v1.identity_pb2_grpc import IdentityServiceStub
from tests.e2e.harness import RunningRegion, eventually

pytestmark = pytest.mark.timeout(240)


async def post_message(
    region: RunningRegion, http: aiohttp.ClientSession, body: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    """The README's curl: POST /v1/tenants/acme/messages with an admin token."""
    async with http.post(
        f"{region.http_base}/v1/tenants/acme/messages",
        data=orjson.dumps(body),
        headers={"Authorization": f"Bearer {region.token('admin')}", "Content-Type": "application/json"},
    ) as response:
        return response.status, orjson.loads(await response.read())


def readme_body(phone: str, message_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "channel": "sms",
        "from": {"kind": "phone", "value": phone},
        "text": "hi",
        "providerMessageId": message_id,
        **extra,
    }


async def test_the_readme_message_is_offered_and_its_customer_is_the_sms_customer(
    e2e_region: RunningRegion,
) -> None:
    phone = "+44 20 7946 0958"
    async with e2e_region.http() as http:
        alice = await e2e_region.agent(http, "alice")
        status, accepted = await post_message(e2e_region, http, readme_body(phone, "SM-readme-1"))
        assert status == 201, accepted
        contact_id, customer_id = accepted["contactId"], accepted["customerId"]
        offer = await alice.expect("offer", seconds=30, contactId=contact_id)
        assert offer["channel"] == "sms"

        created = await e2e_region.wait_event("contact_created", contact_id)
        assert created[0].tenant.brand_id == "acme-retail"
        assert created[0].contact_created.entry_point == "acme-uk-sms"

        # The same person writes by SMS: the same customer (so the same open contact).
        status, _ = await e2e_region.sms(http, "+442079460958", "me again, by text")
        assert status == 200
        received = await e2e_region.wait_event("message_received", contact_id, count=2)
        assert {e.message_received.customer_id for e in received} == {customer_id}

    async with e2e_region.connect() as nc:
        identity = e2e_region.stub(nc, IdentityServiceStub, e2e_region.token("admin"))
        again = await identity.ResolveCustomer(
            identity_pb2.ResolveCustomerRequest(
                tenant=common_pb2.TenantRef(tenant_id="acme", brand_id="acme-retail"),
                identifiers=[common_pb2.Identifier(kind=common_pb2.IDENTIFIER_KIND_PHONE, value=phone)],
            )
        )
    assert not again.created and again.customer.customer_id == customer_id


async def test_bad_entry_points_are_refused_naming_the_field_and_lose_nothing(
    e2e_region: RunningRegion,
) -> None:
    phone = "+447700900555"
    bad = [
        (readme_body(phone, "SM-bad-1", entryPoint="no-such-endpoint"), ["entryPoint", "no-such-endpoint"]),
        (readme_body(phone, "SM-bad-2", brand="acme-bank"), ["brand", "acme-bank", "acme-retail"]),
    ]
    async with e2e_region.http() as http:
        for body, words in bad:
            status, answer = await post_message(e2e_region, http, body)
            assert status == 400, answer
            assert answer["error"]["code"] == "INVALID_ARGUMENT"
            for word in words:
                assert word in answer["error"]["message"], answer

        # Nothing was stored for the refused messages (the earlier scenario's events may still
        # be arriving: the stream's size says nothing here).
        async def stored_of_refused() -> list[Any]:
            return [
                e
                for e in await e2e_region.events()
                if e.WhichOneof("payload") == "message_received"
                and e.message_received.provider_message_id in ("SM-bad-1", "SM-bad-2")
            ]

        assert await stored_of_refused() == []

        # The same provider message id, now good, is accepted (the refusal claimed nothing).
        status, accepted = await post_message(e2e_region, http, readme_body(phone, "SM-bad-1"))
        assert status == 201, accepted

        async def stored_once_accepted() -> list[Any] | None:
            return await stored_of_refused() or None

        # What the check above looks for does show once the message is accepted.
        (good,) = await eventually(stored_once_accepted)
        assert good.contact_id == accepted["contactId"]
        status, repeat = await post_message(e2e_region, http, readme_body(phone, "SM-bad-1"))
        assert status == 200 and repeat["duplicate"] and repeat["customerId"] == accepted["customerId"]
