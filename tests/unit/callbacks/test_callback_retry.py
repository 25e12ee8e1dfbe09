"""Call backs the customer did not answer: tried again per the endpoint's policy, then failed."""

from __future__ import annotations

from dataclasses import replace

import pytest
from pydantic import ValidationError

from ccmesh import channels
from contactcenter.events.v1 import events_pb2
from gateway.domain.callback_retry import BadAttempt, GiveUp, Retry, RetryPolicy, after_call
from gateway.domain.contact import ChannelLeg, ContactRecord
from gateway.service_layer.callback_attempts import UNREACHED_TEXT, CallbackAttempts, attempt_of
from tests.unit.fakes.gateway_fakes import FakeContacts, FakeEvents, channel_endpoint

POLICY = RetryPolicy(attempts=3, spacing_seconds=60.0)


@pytest.mark.parametrize("status", ["no-answer", "busy", "failed"])
def test_an_unanswered_attempt_is_retried_after_the_spacing(status: str) -> None:
    assert after_call(POLICY, 1, status, now=1000.0) == Retry(attempt=2, at=1060.0)
    assert after_call(POLICY, 2, status, now=2000.0) == Retry(attempt=3, at=2060.0)


def test_the_last_allowed_attempt_gives_up() -> None:
    assert after_call(POLICY, 3, "no-answer", now=0.0) == GiveUp(attempts=3)
    assert after_call(RetryPolicy(1, 0.0), 1, "busy", now=0.0) == GiveUp(attempts=1)


@pytest.mark.parametrize("status", ["completed", "in-progress", "ringing", "canceled"])
def test_an_answered_or_live_call_needs_nothing(status: str) -> None:
    assert after_call(POLICY, 1, status, now=0.0) is None


@pytest.mark.parametrize(
    ("make", "named"),
    [
        (lambda: RetryPolicy(0, 1.0), "attempts: at least 1, got 0"),
        (lambda: RetryPolicy(2, -1.0), "spacing_seconds: not negative"),
        (lambda: after_call(POLICY, 0, "busy", 0.0), "attempt: from 1, got 0"),
    ],
)
def test_impossible_policies_and_attempts_are_named(make: object, named: str) -> None:
    with pytest.raises(BadAttempt, match=named):
        make()  # type: ignore[operator]


def test_the_endpoint_configures_the_policy_and_refuses_nonsense_naming_the_field() -> None:
    endpoint = channel_endpoint(
        "acme-voice", "voice", queue="support", callback={"attempts": 2, "spacingSeconds": 5}
    )
    assert (endpoint.spec.callback.attempts, endpoint.spec.callback.spacing_seconds) == (2, 5.0)
    assert channel_endpoint("v2", "voice", queue="support").spec.callback.attempts == 3
    with pytest.raises(ValidationError, match=r"callback\.attempts"):
        channel_endpoint("v3", "voice", queue="support", callback={"attempts": 0})


def test_the_status_callback_url_says_which_request_and_attempt_or_is_refused() -> None:
    query = {"callback": "req-1", "attempt": "2", "contact": "c-1", "queue": "support", "agent": "ann"}
    assert attempt_of(query) == ("req-1", 2, "c-1", "support", "ann")
    assert attempt_of({"contact": "c-1"}) is None  # any other call
    with pytest.raises(ValueError, match="attempt: a number from 1"):
        attempt_of({**query, "attempt": "x"})
    with pytest.raises(ValueError, match="contact: required"):
        attempt_of({"callback": "req-1", "attempt": "1"})


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


async def test_no_answer_twice_then_the_third_attempt_is_placed_and_a_fourth_never() -> None:
    clock, events = Clock(), FakeEvents()
    attempts = CallbackAttempts(
        region="eu", store=FakeContacts(), events=events, clock=clock, sleep=clock.sleep
    )
    endpoint = channel_endpoint(
        "acme-voice", "voice", queue="support", callback={"attempts": 3, "spacingSeconds": 30}
    )
    for attempt in (1, 2, 3):
        failed = await attempts.call_ended(
            endpoint,
            contact_id="c-1",
            first_request="req-1",
            attempt=attempt,
            status="no-answer",
            queue="support",
            agent_id="ann",
        )
        assert failed is not None and failed.final is (attempt == 3)
        # The consumer hands the failure back: the next attempt after the spacing, not before.
        await attempts.handle(events.published[-1])
    assert clock.slept == [30.0, 30.0]
    requested = events.of_kind("callback_requested")
    assert [(r.callback_requested.attempt, r.event_id) for r in requested] == [
        (2, "req-1.attempt2"),
        (3, "req-1.attempt3"),
    ]
    assert {(r.callback_requested.agent_id, r.callback_requested.first_request) for r in requested} == {
        ("ann", "req-1")
    }
    failures = [e.callback_attempt_failed for e in events.of_kind("callback_attempt_failed")]
    assert [(f.attempt, f.attempts_allowed, f.final) for f in failures] == [
        (1, 3, False),
        (2, 3, False),
        (3, 3, True),
    ]
    # Twilio repeats a status callback: the same failure is announced once.
    await attempts.call_ended(
        endpoint,
        contact_id="c-1",
        first_request="req-1",
        attempt=3,
        status="no-answer",
        queue="support",
        agent_id="ann",
    )
    assert len(events.of_kind("callback_attempt_failed")) == 3


async def test_an_answered_call_back_is_not_retried() -> None:
    events = FakeEvents()
    attempts = CallbackAttempts(region="eu", store=FakeContacts(), events=events)
    endpoint = channel_endpoint("acme-voice", "voice", queue="support")
    done = await attempts.call_ended(
        endpoint, contact_id="c-1", first_request="r", attempt=1, status="completed", queue="q", agent_id="a"
    )
    assert done is None and not events.published


async def test_a_cancelled_call_back_closes_the_gateways_open_contact() -> None:
    contacts, events = FakeContacts(), FakeEvents()
    contact_id, _ = await contacts.open_contact("acme", "cust-1")
    await contacts.change_contact("acme", contact_id, lambda _: _record(contact_id))
    attempts = CallbackAttempts(region="eu", store=contacts, events=events)
    cancelled = events_pb2.Event(
        event_id="x", contact_id=contact_id, callback_cancelled=events_pb2.CallbackCancelled(by="customer")
    )
    cancelled.tenant.tenant_id = "acme"
    await attempts.handle(cancelled)
    assert ("acme", "cust-1") not in contacts.open


def _record(contact_id: str) -> ContactRecord:
    return ContactRecord(
        contact_id=contact_id, tenant_id="acme", brand_id="", customer_id="cust-1", entry_point="acme-sms"
    )


async def test_the_customer_hears_on_their_sms_that_the_last_attempt_did_not_reach_them() -> None:
    contacts, events = FakeContacts(), FakeEvents()
    leg = ChannelLeg("sms", "acme-sms", address="+447700900123")
    record = replace(_record("c-1"), legs={"sms": leg}, last_channel="sms")
    await contacts.change_contact("acme", "c-1", lambda _: record)
    attempts = CallbackAttempts(region="eu", store=contacts, events=events)
    endpoint = channel_endpoint("acme-voice", "voice", queue="support", callback={"attempts": 2})
    for attempt in (1, 2):
        await attempts.call_ended(
            endpoint,
            contact_id="c-1",
            first_request="r",
            attempt=attempt,
            status="busy",
            queue="q",
            agent_id="a",
        )
    (told,) = events.of_kind("message_sent")
    assert told.message_sent.text == UNREACHED_TEXT.format(attempts=2)
    assert told.message_sent.channel == channels.to_kind("sms") and told.message_sent.sender == "bot:callback"
