"""An accept or a wrap-up that meets routing or the desk unavailable (NATS electing a leader,
a reply lost to a timeout) is tried again until it converges: routing answers the repeated
accept or complete with the same result, so the contact ends held by the agent, or closed, and
never stays half done. A refusal (the offer is gone) is not retried. A contact routing says
the agent accepted, which the desk missed (the gateway died in between), is listed again."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from fakes.gateway_fakes import REGION

from ccmesh.envelope import new_event
from ccmesh.status import RpcError, retryable
from contactcenter.events.v1 import events_pb2
from contactcenter.routing.v1 import routing_pb2
from gateway.domain.socket_protocol import SocketError
from gateway.domain.workspace_state import Offer
from gateway.service_layer import workspace as workspace_module
from gateway.service_layer.workspace import until_settled

from .test_workspace import AGENT, SMS, World


@pytest.fixture(autouse=True)
def no_pauses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workspace_module, "FIRST_PAUSE_SECONDS", 0.0)


def failing_first(world: World, method: str, failures: list[BaseException]) -> None:
    """`method` of the routing fake (or of the desk store) raises `failures` in turn, then works."""
    target: Any = world.routing if hasattr(world.routing, method) else world.desks
    real = getattr(target, method)

    async def flaky(*args: Any, **kwargs: Any) -> Any:
        if failures:
            raise failures.pop(0)
        return await real(*args, **kwargs)

    setattr(target, method, flaky)


async def test_an_accept_whose_reply_was_lost_is_tried_again_and_the_contact_held() -> None:
    world = World()
    await world.waiting_contact()
    failing_first(
        world,
        "AnswerOffer",
        [
            RpcError(grpc.StatusCode.UNAVAILABLE, "AnswerOffer: NATS did not answer in time; retry"),
            RpcError(grpc.StatusCode.DEADLINE_EXCEEDED, "no reply"),
        ],
    )
    held = await world.workspace.accept(AGENT, Offer("r1", "c1", "support"))
    assert await world.workspace.held(AGENT, "c1") == held
    (answer,) = [request for name, request in world.routing.calls if name == "AnswerOffer"]
    # The contact is named, so routing answers a repeat of an applied accept with success.
    assert (answer.reservation_id, answer.contact_id) == ("r1", "c1")


async def test_a_desk_unavailable_after_routing_accepted_is_written_when_it_is_back() -> None:
    world = World()
    await world.waiting_contact()
    failing_first(world, "hold", [TimeoutError("nats: timeout")])
    await world.workspace.accept(AGENT, Offer("r1", "c1", "support"))
    assert "c1" in world.desks.desks[("acme", "agent-1")]


async def test_a_gone_offer_is_refused_at_once_and_not_retried() -> None:
    world = World()
    await world.waiting_contact()
    world.routing.gone.add("r1")
    with pytest.raises(SocketError) as refused:
        await world.workspace.accept(AGENT, Offer("r1", "c1", "support"))
    assert refused.value.code == "conflict"
    assert [name for name, _ in world.routing.calls].count("AnswerOffer") == 1


async def test_a_wrap_up_completes_through_an_election_naming_the_contact() -> None:
    world = World()
    await world.waiting_contact()
    await world.workspace.accept(AGENT, Offer("r1", "c1", "support"))
    failing_first(world, "AnswerOffer", [RpcError(grpc.StatusCode.UNAVAILABLE, "electing")])
    world.workspace._ai = _NoTickets()  # type: ignore[assignment]
    assert await world.workspace.wrap_up(AGENT, "c1", "resolved", "") is None  # no ticket
    completes = [
        request
        for name, request in world.routing.calls
        if name == "AnswerOffer" and request.answer == routing_pb2.OFFER_ANSWER_COMPLETE
    ]
    assert [(c.reservation_id, c.contact_id) for c in completes] == [("r1", "c1")]
    assert world.desks.desks[("acme", "agent-1")] == {}


async def test_retrying_gives_up_with_the_last_failure_after_its_time() -> None:
    tries = []

    async def always_unavailable() -> None:
        tries.append(1)
        raise RpcError(grpc.StatusCode.UNAVAILABLE, "still electing")

    with pytest.raises(RpcError) as failed:
        await until_settled("a step", always_unavailable, seconds=0.05, pause=0.01)
    assert failed.value.code is grpc.StatusCode.UNAVAILABLE and len(tries) >= 2


def test_what_counts_as_retryable() -> None:
    assert retryable(RpcError(grpc.StatusCode.UNAVAILABLE, "x"))
    assert retryable(TimeoutError())
    assert not retryable(RpcError(grpc.StatusCode.FAILED_PRECONDITION, "gone"))
    assert not retryable(SocketError("conflict", "gone"))
    assert not retryable(ValueError("bug"))


class _NoTickets:
    async def WrapUpConversation(self, request: Any, **_: Any) -> Any:
        raise RpcError(grpc.StatusCode.UNAVAILABLE, "ai is away")


async def offered_by_routing(world: World, reservation_id: str = "r1", contact_id: str = "c1") -> None:
    """Routing's ContactOffered for the contact, as on the stream."""
    await world.events.publish(
        new_event(
            events_pb2.ContactOffered(queue="support", agent_id="agent-1", reservation_id=reservation_id),
            tenant_id="acme",
            brand_id="acme-retail",
            region=REGION,
            source="routing",
            contact_id=contact_id,
            event_id=f"{contact_id}.offered.{reservation_id}",
        )
    )


async def test_a_contact_routing_says_was_accepted_is_listed_again_at_login() -> None:
    # The gateway died after routing accepted and before the desk recorded it.
    world = World()
    await world.waiting_contact()
    await offered_by_routing(world)
    world.routing.accepted = [routing_pb2.AcceptedReservation(contact_id="c1", reservation_id="r1")]
    login = await world.workspace.login(AGENT)
    (held,) = login.contacts
    assert (held.contact_id, held.reservation_id, held.queue, held.channel, held.customer_id) == (
        "c1",
        "r1",
        "support",
        SMS,
        "cust-1",
    )
    # Recorded on the desk: the agent may converse and wrap it up as any held contact.
    assert await world.workspace.held(AGENT, "c1") == held


async def test_login_lists_what_the_desk_holds_once_and_skips_contacts_without_events() -> None:
    world = World()
    await world.waiting_contact()
    await world.workspace.accept(AGENT, Offer("r1", "c1", "support"))
    world.routing.accepted = [
        routing_pb2.AcceptedReservation(contact_id="c1", reservation_id="r1"),
        routing_pb2.AcceptedReservation(contact_id="unknown", reservation_id="r2"),
    ]
    login = await world.workspace.login(AGENT)
    assert [h.contact_id for h in login.contacts] == ["c1"]
    assert set(world.desks.desks[("acme", "agent-1")]) == {"c1"}
