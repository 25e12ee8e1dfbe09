"""Both appliers on one actions stream: each takes only its own targets, and a record that is
not an ActionRecord is dead-lettered by both without stopping either."""

from __future__ import annotations

import pytest
from _platform import REGION, Platform, eventually
from nats.js.errors import KeyNotFoundError

from actions._actions import contact_update, crm, customer_update, dead_letters
from actions.test_actions_identity import attributes_once, new_customer
from actions.test_actions_journeys import journey_once, waiting_journey
from ccmesh import naming

pytestmark = pytest.mark.timeout(60)


async def test_each_service_applies_its_own_targets_and_survives_garbage(
    platform: Platform,
) -> None:
    await platform.start("identity", "routing", "integration")
    identity, customer_id = await new_customer(platform, "+44 20 7946 0103")
    routing = await waiting_journey(platform, "pay-3")
    js = platform.nc.jetstream()
    await js.publish(
        naming.action_subject(REGION, "acme", "update_attributes", "pay-3"), b"\xff not a record"
    )
    api = crm(platform)
    for_customer = await api.UpdateAttributes(
        customer_update("both-1", customer_id, tier="gold", segment="vip")
    )
    for_contact = await api.UpdateAttributes(contact_update("both-2", "pay-3", crm_status="open"))

    shown = await eventually(attributes_once(identity, customer_id, "segment"))
    assert shown == {"tier": "gold", "segment": "vip"}
    _, journey_attributes = await eventually(journey_once(routing, "pay-3", "crm_status"))
    assert journey_attributes == {"crm_status": "open"}
    # Each ledger holds only what its service applied.
    identity_kv, journeys_kv = await js.key_value("identity-eu"), await js.key_value("journeys-eu")
    await identity_kv.get(f"act.acme.{for_customer.result.action_id}")
    await journeys_kv.get(f"act.acme.{for_contact.result.action_id}")
    with pytest.raises(KeyNotFoundError):
        await identity_kv.get(f"act.acme.{for_contact.result.action_id}")
    with pytest.raises(KeyNotFoundError):
        await journeys_kv.get(f"act.acme.{for_customer.result.action_id}")
    # The customer's update reached routing too (same subject) and left the journey alone, and the
    # contact's update left the profile alone.
    assert await attributes_once(identity, customer_id, "segment")() == {"tier": "gold", "segment": "vip"}
    for durable in ("identity-actions", "routing-actions"):
        letters = await dead_letters(platform.nc, durable)
        assert len(letters) == 1 and letters[0].headers is not None
        assert letters[0].headers["Cc-Reason"].startswith("undecodable action record")
