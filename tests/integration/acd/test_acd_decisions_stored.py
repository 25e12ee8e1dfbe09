"""Where the ACD keeps why a contact went to its agent: in the contact's record, written by the
offer's own write; decisions stored by releases that wrote them under a key of their own are
still told for those contacts."""

from __future__ import annotations

import orjson
import pytest
from nats.aio.client import Client as NATS

from ccmesh import naming
from ccmesh.channels import Channel
from ccmesh.kv import ensure_bucket
from routing.adapters import acd_codec
from routing.adapters.acd_store import AcdStore, contact_key, decision_key
from routing.domain.contacts import ContactRecord, ContactStatus
from routing.domain.queueing import WaitingContact

from ._harness import REGION, TENANT

pytestmark = pytest.mark.timeout(30)


async def test_the_record_tells_the_decision_and_former_decision_keys_are_still_read(nc: NATS) -> None:
    kv = await ensure_bucket(nc.jetstream(), naming.acd_bucket(REGION), history=1)
    store = AcdStore(kv)
    former = {"contact_id": "old", "queue": "support", "agent_id": "a0", "rule": "longest_idle"}
    await kv.put(decision_key(TENANT, "old"), orjson.dumps(former))
    old_record = ContactRecord(
        WaitingContact("old", "support", Channel.WEBCHAT, 50, 1.0), ContactStatus.CLOSED
    )
    await kv.put(contact_key(TENANT, "old"), acd_codec.contact_to_bytes(old_record))
    assert await store.get_decision(TENANT, "old") == former

    explained = {**former, "contact_id": "new", "agent_id": "a1"}
    new_record = ContactRecord(
        WaitingContact("new", "support", Channel.WEBCHAT, 50, 1.0),
        ContactStatus.OFFERED,
        explanation=orjson.dumps(explained).decode(),
    )
    await kv.put(contact_key(TENANT, "new"), acd_codec.contact_to_bytes(new_record))
    await kv.put(decision_key(TENANT, "new"), orjson.dumps(former))  # older than the record's
    assert await store.get_decision(TENANT, "new") == explained
    assert await store.get_decision(TENANT, "unknown") is None
