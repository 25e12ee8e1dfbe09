"""An inbound action whose integration process dies after recording the outcome, before its
effects are published (the action record on the actions stream, the ContactCreated announcing
the task). Both still reach their streams, exactly once, a sweep later; a retry of the caller
meanwhile is answered as a replay and publishes nothing twice."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from _platform import eventually
from nats.aio.client import Client as NATS
from nats.js.kv import KeyValue

from ccmesh import naming
from ccmesh.events import EventPublisher
from ccmesh.kv import ensure_bucket
from ccmesh.outbox import Outbox, entries_of, js_publisher
from contactcenter.integration.v1 import integration_pb2
from integration.adapters.action_log import ActionLog, ActionPublisher, action_id_of
from integration.adapters.event_codec import StreamEvents
from integration.service_layer.actions import Actions

from ._steps import REGION, SWEEP_AFTER, TENANT, Crashed, event_subject, marked, region_streams, stored

pytestmark = pytest.mark.timeout(60)


class DyingPublisher:
    """The actions stream's publisher of a process that dies just before its first publish."""

    async def publish(self, tenant_id: str, action: str, target_id: str, action_id: str, data: bytes) -> None:
        raise Crashed("gone before publishing the action")


@pytest.fixture
async def bucket(nc: NATS) -> AsyncIterator[tuple[KeyValue, Outbox]]:
    js = nc.jetstream()
    await region_streams(js)
    kv = await ensure_bucket(js, naming.integration_bucket(REGION))
    # Another integration process's sweeper.
    outbox = Outbox(kv, js_publisher(js), after_seconds=SWEEP_AFTER)
    await outbox.start(markers=True)
    try:
        yield kv, outbox
    finally:
        await outbox.stop()


async def actions_stored(nc: NATS, subject: str) -> int:
    info = await nc.jetstream().stream_info(naming.actions_stream(REGION).name, subjects_filter=subject)
    return int((info.state.subjects or {}).get(subject, 0))


async def test_an_action_whose_process_dies_before_publishing_it_arrives_once(
    nc: NATS, bucket: tuple[KeyValue, Outbox]
) -> None:
    kv, _ = bucket
    js = nc.jetstream()
    header = integration_pb2.ActionHeader(tenant_id=TENANT, idempotency_key="task-1")
    request = integration_pb2.CreateTaskRequest(header=header, title="Call the customer back")
    dying = Actions(ActionLog(kv, REGION), DyingPublisher(), StreamEvents(EventPublisher(js, REGION)))
    with pytest.raises(Crashed):
        await dying.apply(request, header, "crm")

    action_id = action_id_of(TENANT, "task-1")
    task = f"task{action_id[:28]}"
    action_subject = naming.action_subject(REGION, TENANT, "create_task", task)
    created_subject = event_subject("contact_created", task)

    async def both_sent_and_removed() -> bool:
        key = f"action.{TENANT}.{action_id}"
        sent = await actions_stored(nc, action_subject) >= 1 and await stored(js, created_subject) >= 1
        return sent and not entries_of((await kv.get(key)).value) and not await marked(kv, key)

    await eventually(both_sent_and_removed)
    assert await actions_stored(nc, action_subject) == 1
    assert await stored(js, created_subject) == 1

    # The caller retries on another process: a replay, nothing published again.
    healthy = Actions(
        ActionLog(kv, REGION), ActionPublisher(js, REGION), StreamEvents(EventPublisher(js, REGION))
    )
    outcome, replayed = await healthy.apply(request, header, "crm")
    assert replayed and outcome.result == {"contact_id": task}
    assert await actions_stored(nc, action_subject) == 1
    assert await stored(js, created_subject) == 1


async def test_an_action_published_by_its_writer_is_stored_once_after_the_sweep(
    nc: NATS, bucket: tuple[KeyValue, Outbox]
) -> None:
    kv, outbox = bucket
    js = nc.jetstream()
    header = integration_pb2.ActionHeader(tenant_id=TENANT, idempotency_key="close-1")
    request = integration_pb2.CloseContactRequest(header=header, contact_id="c9", outcome="resolved")
    healthy = Actions(
        ActionLog(kv, REGION), ActionPublisher(js, REGION), StreamEvents(EventPublisher(js, REGION))
    )
    await healthy.apply(request, header, "crm")
    action_id = action_id_of(TENANT, "close-1")

    async def swept() -> bool:
        key = f"action.{TENANT}.{action_id}"
        return not entries_of((await kv.get(key)).value) and not await marked(kv, key)

    await eventually(swept)
    assert outbox.sent == 2  # sent again by the sweeper, and dropped by both streams
    assert await actions_stored(nc, naming.action_subject(REGION, TENANT, "close_contact", "c9")) == 1
    assert await stored(js, event_subject("contact_closed", "c9")) == 1
