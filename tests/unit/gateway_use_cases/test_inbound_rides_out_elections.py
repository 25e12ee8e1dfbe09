"""A provider's webhook that meets the platform's own messaging away for a moment (a stream
electing its leader: timeouts, no responders, UNAVAILABLE) is tried again within the request's
deadline and answered as if nothing happened: one contact, its events once. A refusal is
answered at once, and a failure that outlasts the deadline is the provider's 503 to retry."""

from __future__ import annotations

import functools
from typing import Any

import grpc
import pytest
from fakes.gateway_fakes import (
    REGION,
    FakeContacts,
    FakeEvents,
    FakeIdentity,
    FakeRouting,
    channel_endpoint,
    directory_of,
    sms,
)
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError

from ccmesh.status import RpcError
from gateway.entrypoints import inbound_port
from gateway.entrypoints.edge_middleware import EdgeError
from gateway.entrypoints.inbound_port import accept_checked
from gateway.service_layer.accept_inbound import AcceptInbound, accept_inbound
from gateway.service_layer.conversation import Conversations

ENTRY_POINT = "acme-sms"


@pytest.fixture(autouse=True)
def no_pauses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inbound_port, "FIRST_PAUSE_SECONDS", 0.0)


class FlakyIdentity(FakeIdentity):
    """Identity that fails with `failures` in turn, then answers."""

    def __init__(self, failures: list[BaseException]) -> None:
        super().__init__()
        self.failures = failures

    async def ResolveCustomer(self, request: Any, **kwargs: Any) -> Any:
        if self.failures:
            raise self.failures.pop(0)
        return await super().ResolveCustomer(request, **kwargs)


class FlakyEvents(FakeEvents):
    """The stream without a leader for the first `failures` sends: nothing stored, no answer."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    async def send(self, *events: Any) -> Any:
        if self.failures:
            self.failures -= 1
            raise NatsTimeoutError
        return await super().send(*events)


def bound(contacts: FakeContacts, identity: Any, events: FakeEvents) -> AcceptInbound:
    conversations = Conversations(
        region=REGION,
        store=contacts,
        routing=FakeRouting(),
        endpoints=directory_of(channel_endpoint(ENTRY_POINT, queue="support")),
        events=events,
    )
    return functools.partial(
        accept_inbound,
        region=REGION,
        store=contacts,
        identity=identity,
        events=events,
        conversations=conversations,
    )


def message(provider_id: str) -> Any:
    return sms(provider_id, entry_point=ENTRY_POINT)


async def test_a_webhook_during_an_election_is_accepted_once_the_cluster_answers() -> None:
    contacts, events = FakeContacts(), FlakyEvents(failures=2)
    identity = FlakyIdentity(
        [RpcError(grpc.StatusCode.UNAVAILABLE, "no leader"), NoRespondersError(), NatsTimeoutError()]
    )
    accepted, duplicate = await accept_checked(bound(contacts, identity, events), message("SM-election"))
    assert not duplicate and accepted.contact_created
    assert events.kinds().count("contact_created") == 1
    assert events.kinds().count("message_received") == 1
    assert identity.failures == [] and events.failures == 0
    # The provider's own retry later is the same message: answered with the same result.
    again, duplicate = await accept_checked(bound(contacts, FakeIdentity(), events), message("SM-election"))
    assert duplicate and again == accepted
    assert events.kinds().count("message_received") == 1


async def test_a_refusal_is_answered_at_once_without_retrying() -> None:
    identity = FlakyIdentity([RpcError(grpc.StatusCode.INVALID_ARGUMENT, "bad identifier"), RuntimeError()])
    with pytest.raises(EdgeError) as refused:
        await accept_checked(bound(FakeContacts(), identity, FakeEvents()), message("SM-bad"))
    assert (refused.value.status, refused.value.code) == (400, "INVALID_ARGUMENT")
    assert len(identity.failures) == 1, "tried once"


async def test_an_outage_longer_than_the_deadline_is_a_503_the_provider_retries(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(inbound_port, "RIDE_OUT_SECONDS", 0.0)
    contacts, events = FakeContacts(), FlakyEvents(failures=1_000)
    with pytest.raises(EdgeError) as unavailable:
        await accept_checked(bound(contacts, FakeIdentity(), events), message("SM-away"))
    assert unavailable.value.status == 503 and unavailable.value.headers.get("Retry-After") == "1"
    assert events.published == [] and contacts.claims == {}, "nothing half done, the claim released"
    # Once the cluster is back, the provider's retry is accepted.
    events.failures = 0
    accepted, duplicate = await accept_checked(bound(contacts, FakeIdentity(), events), message("SM-away"))
    assert not duplicate and accepted.contact_created
