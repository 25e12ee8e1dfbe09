"""The access audit log is append-only in the store itself: on a real nats-server, the stream
refuses single deletes and purges (an audit log created before that is made so in place), while
the other streams of the region still allow the erasure's deletes."""

from __future__ import annotations

import pytest
from _platform import REGION
from nats.aio.client import Client as NATS
from nats.js.api import StreamConfig
from nats.js.errors import APIError

from ccmesh import naming
from ccmesh.retention import RetentionPolicy
from ccmesh.stores import ensure_region_stores

pytestmark = pytest.mark.timeout(60)


async def test_the_audit_log_refuses_deletes_and_purges_and_other_streams_do_not(nc: NATS) -> None:
    js = nc.jetstream()
    audit = naming.audit_stream(REGION)
    # As an older release created it: deletes and purges allowed.
    await js.add_stream(StreamConfig(name=audit.name, subjects=list(audit.subjects)))
    subject = audit.subjects[0].replace(">", "acme.read")
    first = await js.publish(subject, b'{"who":"agent-1","what":"customers:read"}')
    await ensure_region_stores(js, REGION, RetentionPolicy())

    info = await js.stream_info(audit.name)
    assert info.config.deny_delete and info.config.deny_purge
    second = await js.publish(subject, b'{"who":"admin-1","what":"queues:write"}')
    with pytest.raises(APIError):
        await js.delete_msg(audit.name, first.seq)
    with pytest.raises(APIError):
        await js.purge_stream(audit.name)
    with pytest.raises(APIError):
        await js.purge_stream(audit.name, subject=subject)
    kept = await js.stream_info(audit.name)
    assert (kept.state.messages, kept.state.first_seq, kept.state.last_seq) == (2, first.seq, second.seq)

    # Only the audit log: the event stream keeps allowing the erasure's secure deletes.
    events = naming.events_stream(REGION)
    assert not (await js.stream_info(events.name)).config.deny_delete
    written = await js.publish(events.subjects[0].replace(">", "acme.c1.created"), b"person")
    assert await js.delete_msg(events.name, written.seq)
