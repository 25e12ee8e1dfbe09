"""A routing instance's view takes a contact's stored record when its watch did not show it:
`KeyMirror.refresh_contact` reads the real bucket. Used by the routing pass for a contact still
shown waiting a while after it was offered (a write the watch missed across a leader change, or
an offer that failed without writing), so the view never keeps a phantom waiting contact."""

from __future__ import annotations

from dataclasses import replace

import pytest
from _platform import eventually
from nats.aio.client import Client as NATS

from ccmesh import naming
from ccmesh.channels import Channel
from ccmesh.kv import ensure_bucket
from routing.adapters.acd_store import AcdStore, KeyMirror
from routing.domain.contacts import ContactRecord, ContactStatus
from routing.domain.queueing import WaitingContact

from ._harness import REGION, TENANT

pytestmark = pytest.mark.timeout(60)


def waiting(contact_id: str) -> ContactRecord:
    return ContactRecord(WaitingContact(contact_id, "support", Channel.SMS, 50, 1000.0))


async def test_a_missed_write_is_taken_from_the_bucket_and_an_absent_key_changes_nothing(nc: NATS) -> None:
    kv = await ensure_bucket(nc.jetstream(), naming.acd_bucket(REGION), history=1)
    store = AcdStore(kv)
    view = KeyMirror(kv)
    await view.start()
    await store.update_contact(TENANT, "c1", lambda _old: waiting("c1"))

    async def shown_waiting() -> bool:
        return "c1" in view.waiting.get((TENANT, "support"), {})

    await eventually(shown_waiting)
    await view.stop()  # from here on the view hears nothing: the close below is "missed"
    await store.update_contact(
        TENANT, "c1", lambda old: replace(old or waiting("c1"), status=ContactStatus.CLOSED)
    )
    assert await shown_waiting()

    await view.refresh_contact(TENANT, "c1")
    assert not await shown_waiting()
    assert (TENANT, "c1") not in view.contacts
    record = view.record(TENANT, "c1")
    assert record is not None and record.status is ContactStatus.CLOSED

    # A key the bucket does not have (or a new leader has not applied yet) leaves the view alone.
    view.put_contact(TENANT, "c2", waiting("c2"))
    await view.refresh_contact(TENANT, "c2")
    assert "c2" in view.waiting[(TENANT, "support")]
