"""`Actions` stores what an action publishes with its outcome (one write), so a crash before the
publish leaves it for a sweeper rather than behind an outcome a retry would only replay."""

from __future__ import annotations

import pytest
from fakes.integration_fakes import TENANT, FakeActionOutcomes, FakeActionRecords
from fakes.published import FakePublisher

from contactcenter.integration.v1 import integration_pb2
from integration.adapters.action_log import action_id_of
from integration.domain.events import IntegrationEvent, TaskCreated
from integration.service_layer.actions import ActionError, Actions


def header(key: str = "k1") -> integration_pb2.ActionHeader:
    return integration_pb2.ActionHeader(tenant_id=TENANT, idempotency_key=key)


async def test_the_outcome_carries_the_record_and_the_events_it_publishes() -> None:
    log, records, events = FakeActionOutcomes(), FakeActionRecords(), FakePublisher[IntegrationEvent]()
    actions = Actions(log, records, events)
    await actions.apply(
        integration_pb2.CreateTaskRequest(header=header(), title="Call back"), header(), "crm"
    )
    action_id = action_id_of(TENANT, "k1")
    staged = log.staged[(TENANT, action_id)]
    assert staged is not None
    (published,) = records.published
    assert (staged.action, staged.target_id, staged.record) == (
        published.action,
        published.target_id,
        published.data,
    )
    assert list(staged.events) == events.published == [TaskCreated(TENANT, published.target_id, action_id)]


async def test_a_refused_action_stores_and_stages_nothing() -> None:
    log, records, events = FakeActionOutcomes(), FakeActionRecords(), FakePublisher[IntegrationEvent]()
    actions = Actions(log, records, events)
    request = integration_pb2.SendFlowEventRequest(header=header(), contact_id="c.1", event_name="paid")
    with pytest.raises(ActionError, match="single token"):
        await actions.apply(request, header(), "crm")
    assert log.stored == {} and log.staged == {} and records.published == []


async def test_a_replayed_action_publishes_nothing_more() -> None:
    log, records, events = FakeActionOutcomes(), FakeActionRecords(), FakePublisher[IntegrationEvent]()
    actions = Actions(log, records, events)
    request = integration_pb2.CloseContactRequest(header=header(), contact_id="c1", outcome="resolved")
    await actions.apply(request, header(), "crm")
    _, replayed = await actions.apply(request, header(), "crm")
    assert replayed and len(records.published) == 1 and len(events.published) == 1
