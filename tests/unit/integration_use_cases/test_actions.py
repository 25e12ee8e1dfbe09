"""`Actions` over fakes: each inbound action is applied once per idempotency key; creating a task
and closing a contact are announced as domain events; a bad request is refused by name and
neither records, publishes nor announces anything."""

from __future__ import annotations

import pytest
from fakes.integration_fakes import TENANT, FakeActionOutcomes, FakeActionRecords
from fakes.published import FakePublisher

from contactcenter.integration.v1 import integration_pb2
from integration.adapters.action_log import action_id_of
from integration.domain.events import ContactClosedByAction, IntegrationEvent, TaskCreated
from integration.service_layer.actions import ActionError, Actions, IdempotencyConflict


def use_case() -> tuple[Actions, FakeActionOutcomes, FakeActionRecords, FakePublisher[IntegrationEvent]]:
    log, records, events = FakeActionOutcomes(), FakeActionRecords(), FakePublisher[IntegrationEvent]()
    return Actions(log, records, events), log, records, events


def header(key: str = "k1") -> integration_pb2.ActionHeader:
    return integration_pb2.ActionHeader(tenant_id=TENANT, idempotency_key=key)


def task(title: str = "Call the customer back", key: str = "k1") -> integration_pb2.CreateTaskRequest:
    return integration_pb2.CreateTaskRequest(header=header(key), title=title)


async def test_a_created_task_is_recorded_published_and_announced_once() -> None:
    actions, _, records, events = use_case()
    outcome, replayed = await actions.apply(task(), header(), "crm")
    action_id = action_id_of(TENANT, "k1")
    contact_id = f"task{action_id[:28]}"
    assert (outcome.result, replayed) == ({"contact_id": contact_id}, False)
    assert [(r.action, r.target_id, r.action_id) for r in records.published] == [
        ("create_task", contact_id, action_id)
    ]
    record = integration_pb2.ActionRecord.FromString(records.published[0].data)
    assert (record.requested_by, record.create_task.title) == ("crm", "Call the customer back")
    assert events.published == [TaskCreated(TENANT, contact_id, action_id)]

    again, replayed = await actions.apply(task(), header(), "crm")
    assert (again, replayed) == (outcome, True)
    assert len(records.published) == 1 and len(events.published) == 1


async def test_closing_a_contact_is_announced_with_its_outcome_and_caller() -> None:
    actions, _, records, events = use_case()
    request = integration_pb2.CloseContactRequest(header=header(), contact_id="c1", outcome="resolved")
    await actions.apply(request, header(), "crm-bot")
    assert [r.action for r in records.published] == ["close_contact"]
    assert events.published == [
        ContactClosedByAction(TENANT, "c1", action_id_of(TENANT, "k1"), "resolved", "crm-bot")
    ]


async def test_attribute_and_flow_actions_are_published_but_announce_no_domain_event() -> None:
    actions, _, records, events = use_case()
    attributes = integration_pb2.UpdateAttributesRequest(
        header=header("k1"),
        target=integration_pb2.ATTRIBUTE_TARGET_CONTACT,
        target_id="c1",
        attributes={"tier": "gold"},
    )
    flow = integration_pb2.SendFlowEventRequest(header=header("k2"), contact_id="c1", event_name="paid")
    await actions.apply(attributes, header("k1"), "crm")
    await actions.apply(flow, header("k2"), "crm")
    assert [r.action for r in records.published] == ["update_attributes", "send_flow_event"]
    assert events.published == []


async def test_a_reused_key_for_another_request_is_refused_and_the_first_outcome_kept() -> None:
    actions, log, records, events = use_case()
    first, _ = await actions.apply(task(), header(), "crm")
    with pytest.raises(IdempotencyConflict, match="'k1' was already used for a different request"):
        await actions.apply(task("Something else"), header(), "crm")
    assert list(log.stored.values()) == [first]
    assert len(records.published) == 1 and len(events.published) == 1


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (integration_pb2.CreateTaskRequest(header=header(), title=""), "title is required"),
        (integration_pb2.CloseContactRequest(header=header()), "contact_id is required"),
        (
            integration_pb2.CloseContactRequest(header=header(), contact_id="c1.x", outcome="resolved"),
            "target id must be a single token",
        ),
    ],
)
async def test_a_bad_request_is_refused_by_name_and_leaves_no_trace(
    request_: integration_pb2.CreateTaskRequest | integration_pb2.CloseContactRequest, message: str
) -> None:
    actions, log, records, events = use_case()
    with pytest.raises(ActionError, match=message):
        await actions.apply(request_, header(), "crm")
    assert (log.stored, records.published, events.published) == ({}, [], [])


async def test_a_missing_or_oversized_idempotency_key_is_refused() -> None:
    actions, _, records, events = use_case()
    for key in ("", "k" * 201):
        with pytest.raises(ActionError, match=r"header\.idempotency_key: required, at most 200 characters"):
            await actions.apply(task(key=key), header(key), "crm")
    assert (records.published, events.published) == ([], [])
