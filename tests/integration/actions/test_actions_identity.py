"""Inbound update_attributes actions for customers, applied by the identity service from the
region's actions stream: they show in GetCustomer, apply once, and a bad one is dead-lettered
without stopping the ones after it."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from _platform import Platform, eventually

from actions._actions import crm, customer_update, dead_letters, republish
from contactcenter.common.v1 import common_pb2
from contactcenter.identity.v1 import identity_pb2
from contactcenter.identity.v1.identity_pb2_grpc import IdentityServiceStub

pytestmark = pytest.mark.timeout(60)

DURABLE = "identity-actions"


async def new_customer(platform: Platform, phone: str) -> tuple[Any, str]:
    """An acme-retail customer (acme's brands are isolated: the profile lives in the brand's scope)."""
    identity = platform.stub(IdentityServiceStub, tenant="acme", role="admin")
    reply = await identity.ResolveCustomer(
        identity_pb2.ResolveCustomerRequest(
            tenant=common_pb2.TenantRef(tenant_id="acme", brand_id="acme-retail"),
            identifiers=[common_pb2.Identifier(kind=common_pb2.IDENTIFIER_KIND_PHONE, value=phone)],
            attributes={"tier": "bronze"},
        )
    )
    assert reply.created
    return identity, reply.customer.customer_id


def attributes_once(identity: Any, customer_id: str, key: str) -> Any:
    """A probe for `eventually`: the customer's attributes once `key` is among them."""

    async def probe() -> dict[str, str] | None:
        reply = await identity.GetCustomer(
            identity_pb2.GetCustomerRequest(
                tenant=common_pb2.TenantRef(tenant_id="acme", brand_id="acme-retail"), customer_id=customer_id
            )
        )
        attributes = dict(reply.customer.attributes)
        return attributes if key in attributes else None

    return probe


async def test_customer_attributes_from_the_integration_api_show_in_get_customer_once(
    platform: Platform,
) -> None:
    await platform.start("identity", "integration")
    identity, customer_id = await new_customer(platform, "+44 20 7946 0101")
    api = crm(platform)
    first = await api.UpdateAttributes(customer_update("crm-1", customer_id, tier="gold", segment="smb"))
    assert not first.result.replayed
    shown = await eventually(attributes_once(identity, customer_id, "segment"))
    assert shown == {"tier": "gold", "segment": "smb"}

    # A later change, then the first call repeated with its idempotency key: it must not apply again.
    await api.UpdateAttributes(customer_update("crm-2", customer_id, tier="silver"))
    again = await api.UpdateAttributes(customer_update("crm-1", customer_id, tier="gold", segment="smb"))
    assert again.result.replayed and again.result.action_id == first.result.action_id
    # The first record delivered a second time (as after the stream's duplicate window): the
    # identity service remembers the action id and skips it.
    await republish(platform.nc, first.result.action_id, "redelivered-crm-1")
    await api.UpdateAttributes(customer_update("crm-3", customer_id, marker="after"))
    shown = await eventually(attributes_once(identity, customer_id, "marker"))
    assert shown == {"tier": "silver", "segment": "smb", "marker": "after"}
    kv = await platform.nc.jetstream().key_value("identity-eu")
    entry = await kv.get(f"act.acme.{first.result.action_id}")
    assert orjson.loads(entry.value or b"{}")["status"] == "applied"
    assert await dead_letters(platform.nc, DURABLE) == []


async def test_bad_customer_actions_are_dead_lettered_and_the_next_one_applies(
    platform: Platform,
) -> None:
    await platform.start("identity", "integration")
    identity, customer_id = await new_customer(platform, "+44 20 7946 0102")
    api = crm(platform)
    unknown = await api.UpdateAttributes(customer_update("bad-1", "no-such-customer", tier="gold"))
    too_many = {f"k{i}": "v" for i in range(100)}
    over = await api.UpdateAttributes(customer_update("bad-2", customer_id, **too_many))
    await api.UpdateAttributes(customer_update("good-1", customer_id, tier="platinum"))

    # The stream is consumed in order: once the good action applied, both bad ones were handled.
    await eventually(_tier_is(identity, customer_id, "platinum"))
    letters = await dead_letters(platform.nc, DURABLE)
    reasons = sorted(m.headers["Cc-Reason"] for m in letters if m.headers)
    assert len(letters) == 2
    assert "customer 'no-such-customer' is not known in this region" in reasons[1]
    assert "101 entries; the maximum is 100" in reasons[0]
    kv = await platform.nc.jetstream().key_value("identity-eu")
    for action in (unknown, over):
        entry = await kv.get(f"act.acme.{action.result.action_id}")
        assert orjson.loads(entry.value or b"{}")["status"] == "failed"


def _tier_is(identity: Any, customer_id: str, tier: str) -> Any:
    probe = attributes_once(identity, customer_id, "tier")

    async def check() -> bool:
        found = await probe()
        return bool(found and found.get("tier") == tier)

    return check
