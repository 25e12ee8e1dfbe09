"""Consent use cases with in-memory stores: append-only history, what stands now, bad input named,
and the gateway's gate: refused without consent where a rule requires it, allowed after consent,
refused again after withdrawal (by keyword on the channel), each refusal published once."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
from fakes.gateway_fakes import FakeEvents as StreamFakeEvents

from ccmesh.consent_check import ConsentCheck
from ccmesh.policy_violations import PolicyCheck
from ccmesh.status import RpcError
from ccpolicy import ConsentRule, Purpose, RuleSet
from ccpolicy.vocabulary import Action
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from contactcenter.identity.v1 import identity_pb2
from gateway.domain.consent_keywords import withdrawal_confirmation, withdrawn_purposes
from gateway.service_layer.consent_gate import ConsentGate
from identity.domain.consent import ConsentRecord, InvalidConsent, current, standing_after, standing_of
from identity.service_layer.consent import ConsentChange, change_consent, consent_history, standing_consent


@dataclass
class FakeConsentStore:
    rows: dict[tuple[str, str], list[ConsentRecord]] = field(default_factory=dict)

    async def append(self, scope: str, record: ConsentRecord) -> tuple[ConsentRecord, bool]:
        rows = self.rows.setdefault((scope, record.customer_id), [])
        for stored in rows:
            if stored.record_id == record.record_id:
                return stored, False
        rows.append(record)
        return record, True

    async def history(self, scope: str, customer_id: str) -> list[ConsentRecord]:
        return list(self.rows.get((scope, customer_id), []))

    async def standing(self, scope: str, customer_id: str) -> dict[str, bool]:
        summary = None
        for record in self.rows.get((scope, customer_id), []):
            summary = standing_after(summary, record)
        return standing_of(summary)


@dataclass
class FakeAnnouncer:
    announced: list[str] = field(default_factory=list)

    async def changed(self, tenant_id: str, brand_id: str, record: ConsentRecord) -> None:
        self.announced.append(record.record_id)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        self.now += 1
        return self.now


async def _change(store: FakeConsentStore, announcer: FakeAnnouncer, clock: Clock, **fields: Any) -> Any:
    change = ConsentChange(**{"customer_id": "c1", "source": "api", **fields})
    return await change_consent(
        store,
        announcer,
        change,
        tenant_id="acme",
        brand_id="b",
        scope="acme",
        recorded_by="agent-7",
        clock=clock,
    )


async def test_history_keeps_every_grant_and_withdrawal_in_order() -> None:
    store, announcer, clock = FakeConsentStore(), FakeAnnouncer(), Clock()
    await _change(
        store, announcer, clock, purpose="recording", granted=True, policy_version="ivr-v2", channel=5
    )
    await _change(store, announcer, clock, purpose="marketing", granted=True, source="chat")
    await _change(store, announcer, clock, purpose="recording", granted=False, source="keyword")
    history, standing = await consent_history(store, "acme", "c1")
    assert [(r.purpose, r.granted, r.source) for r in history] == [
        ("recording", True, "api"),
        ("marketing", True, "chat"),
        ("recording", False, "keyword"),
    ]
    first = history[0]
    assert (first.policy_version, first.channel, first.recorded_by, first.at) == (
        "ivr-v2",
        5,
        "agent-7",
        1001.0,
    )
    assert standing == {"recording": False, "marketing": True}
    assert announcer.announced == [r.record_id for r in history]


async def test_a_repeated_record_id_writes_nothing_new_but_is_announced_again() -> None:
    store, announcer, clock = FakeConsentStore(), FakeAnnouncer(), Clock()
    first, new = await _change(store, announcer, clock, purpose="ai_analysis", granted=True, record_id="r-1")
    again, new_again = await _change(
        store, announcer, clock, purpose="ai_analysis", granted=True, record_id="r-1"
    )
    assert (new, new_again) == (True, False)
    assert again == first
    assert len(await store.history("acme", "c1")) == 1
    # The first try may have stored the record and failed before the event: the repeat announces.
    assert announcer.announced == ["r-1", "r-1"]


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"purpose": "dancing"}, "purpose: unknown purpose 'dancing'"),
        ({"purpose": "recording", "source": " "}, "source: required"),
        ({"purpose": "recording", "record_id": "a.b"}, "record_id: 1-64 letters"),
        ({"purpose": "recording", "contact_id": "x>"}, "contact_id: 1-64 letters"),
        ({"purpose": "recording", "policy_version": "v" * 201}, "policy_version: at most 200"),
    ],
)
async def test_bad_input_is_refused_naming_the_field_and_nothing_is_stored(
    fields: dict[str, Any], named: str
) -> None:
    store, announcer = FakeConsentStore(), FakeAnnouncer()
    await _change(store, announcer, Clock(), purpose="recording", granted=True)
    with pytest.raises(InvalidConsent, match=named.replace("(", r"\(")):
        await _change(store, announcer, Clock(), granted=False, **fields)
    # What was accepted before stays, unchanged.
    assert current(await store.history("acme", "c1")) == {"recording": True}


def test_withdrawal_keywords() -> None:
    assert withdrawn_purposes(" stop   recording! ") == (Purpose.RECORDING, Purpose.TRANSCRIPTION)
    assert withdrawn_purposes("STOP AI") == (Purpose.AI_ANALYSIS,)
    assert set(withdrawn_purposes("Withdraw consent.")) == set(Purpose)
    assert withdrawn_purposes("please stop recording my calls, I mean it, thank you very much") == ()
    assert withdrawn_purposes("hello") == ()


class FakeIdentity:
    """ListConsents and WithdrawConsent over the real use cases and a fake store."""

    def __init__(self) -> None:
        self.store, self.announcer, self.clock = FakeConsentStore(), FakeAnnouncer(), Clock()
        self.lookups = 0

    async def ListConsents(self, request: identity_pb2.ListConsentsRequest, **_: Any) -> Any:
        self.lookups += 1
        assert request.current_only, "the gate reads only what stands now"
        standing = await standing_consent(self.store, request.tenant.tenant_id, request.customer_id)
        return identity_pb2.ListConsentsResponse(current=standing)

    async def WithdrawConsent(self, request: identity_pb2.WithdrawConsentRequest, **_: Any) -> Any:
        await self.grant(request.customer_id, request.purpose, False, request.source, request.record_id)

    async def grant(
        self, customer: str, purpose: str, granted: bool = True, source: str = "api", rid: str = ""
    ) -> None:
        await change_consent(
            self.store,
            self.announcer,
            ConsentChange(
                customer_id=customer, purpose=purpose, granted=granted, source=source, record_id=rid
            ),
            tenant_id="acme",
            brand_id="",
            scope="acme",
            recorded_by="test",
            clock=self.clock,
        )


@dataclass
class FakeEvents:
    published: list[events_pb2.Event] = field(default_factory=list)

    async def publish(self, event: events_pb2.Event, timeout: float = 5.0) -> None:
        self.published.append(event)


EU_RULES = RuleSet(
    (ConsentRule("eu-call-consent", frozenset({"eu"}), frozenset({Purpose.TRANSCRIPTION})),), "v1"
)


def _gate(
    identity: FakeIdentity, events: FakeEvents, region: str = "eu", rules: RuleSet = EU_RULES
) -> ConsentGate:
    policy = PolicyCheck(region=region, source="gateway", rules=lambda: rules, events=events)
    return ConsentGate(identity=identity, policy=policy)


async def _transcribe(gate: ConsentGate, customer: str = "c1", contact: str = "k1") -> bool:
    decision = await gate.permits(
        Action.TRANSCRIBE, tenant_id="acme", brand_id="", customer_id=customer, contact_id=contact
    )
    return decision.allowed


async def test_the_gate_refuses_without_consent_allows_after_it_and_refuses_after_withdrawal() -> None:
    identity, events = FakeIdentity(), FakeEvents()
    gate = _gate(identity, events)
    assert not await _transcribe(gate, contact="k1")
    (violation,) = events.published
    assert violation.WhichOneof("payload") == "policy_violation"
    assert (violation.policy_violation.rule, violation.policy_violation.action) == (
        "eu-call-consent",
        "transcribe",
    )
    assert (violation.contact_id, violation.policy_violation.customer_id) == ("k1", "c1")
    assert violation.policy_violation.rule_set_version == "v1"

    await identity.grant("c1", "transcription")
    assert await _transcribe(gate, contact="k2")

    withdrawn = await gate.withdraw_by_keyword(
        "Stop recording",
        tenant_id="acme",
        brand_id="",
        customer_id="c1",
        contact_id="k2",
        channel=2,
        message_id="m-9",
    )
    assert withdrawn == ("recording", "transcription")
    assert not await _transcribe(gate, contact="k3")
    history, standing = await consent_history(identity.store, "acme", "c1")
    assert [(r.purpose, r.granted, r.source) for r in history] == [
        ("transcription", True, "api"),
        ("recording", False, "keyword"),
        ("transcription", False, "keyword"),
    ]
    assert standing == {"transcription": False, "recording": False}
    # A provider's retry of the keyword message records nothing twice.
    await gate.withdraw_by_keyword(
        "STOP RECORDING",
        tenant_id="acme",
        brand_id="",
        customer_id="c1",
        contact_id="k2",
        channel=2,
        message_id="m-9",
    )
    assert len(await identity.store.history("acme", "c1")) == 3
    assert [e.contact_id for e in events.published] == ["k1", "k3"]


async def test_the_gate_asks_nobody_where_no_rule_governs_and_refuses_unknown_customers() -> None:
    identity, events = FakeIdentity(), FakeEvents()
    assert await _transcribe(_gate(identity, events, region="us"))
    assert await _transcribe(_gate(identity, events, rules=RuleSet()))
    assert identity.lookups == 0
    # A customer homed elsewhere has no consent record here: not assumed.
    assert not await _transcribe(_gate(identity, events), customer="remote-us-abc")
    assert identity.lookups == 0
    assert (
        await _gate(identity, events).withdraw_by_keyword(
            "hello",
            tenant_id="acme",
            brand_id="",
            customer_id="c1",
            contact_id="k",
            channel=2,
            message_id="m",
        )
        == ()
    )


def test_the_summary_keeps_the_latest_record_of_each_purpose_whatever_order_updates_arrive_in() -> None:
    def record(rid: str, purpose: str, granted: bool, at: float) -> ConsentRecord:
        return ConsentRecord(rid, "c1", purpose, granted, 0, at, "", "api", "t")

    given, withdrawn = record("a", "recording", True, 10.0), record("b", "recording", False, 11.0)
    marketing = record("c", "marketing", True, 5.0)
    in_order = standing_after(standing_after(standing_after(None, given), withdrawn), marketing)
    out_of_order = standing_after(standing_after(standing_after(None, withdrawn), marketing), given)
    assert standing_of(in_order) == standing_of(out_of_order) == {"recording": False, "marketing": True}
    assert standing_after(in_order, withdrawn) == in_order, "a repeat changes nothing"
    assert standing_of(None) == {}


class UnreachableIdentity:
    async def ListConsents(self, request: identity_pb2.ListConsentsRequest, **_: Any) -> Any:
        raise RpcError(grpc.StatusCode.NOT_FOUND, f"customer {request.customer_id!r} not found")


async def test_ai_analysis_needs_consent_where_a_rule_says_so_and_an_unknown_answer_refuses() -> None:
    rules = RuleSet((ConsentRule("ai-consent", frozenset(), frozenset({Purpose.AI_ANALYSIS})),))
    events = FakeEvents()
    identity = FakeIdentity()
    policy = PolicyCheck(region="us", source="ai", rules=lambda: rules, events=events)
    check = ConsentCheck(identity=identity, policy=policy, actor="ai")

    async def analyse(customer: str, contact: str) -> bool:
        decision = await check.permits(
            Action.ANALYSE, tenant_id="acme", brand_id="", customer_id=customer, contact_id=contact
        )
        return decision.allowed

    assert not await analyse("c1", "k1")
    await identity.grant("c1", "ai_analysis")
    assert await analyse("c1", "k2")
    assert await check.consent_of("acme", "", "c1") == {
        "recording": False,
        "transcription": False,
        "ai_analysis": True,
        "marketing": False,
    }
    lost = ConsentCheck(identity=UnreachableIdentity(), policy=policy, actor="ai")
    decision = await lost.permits(
        Action.ANALYSE, tenant_id="acme", brand_id="", customer_id="c9", contact_id="k3"
    )
    assert (decision.allowed, decision.rule) == (False, "ai-consent")
    assert [(e.source, e.contact_id) for e in events.published] == [("ai", "k1"), ("ai", "k3")]


async def test_a_keyword_withdrawal_is_confirmed_once_on_text_channels() -> None:
    identity, stream = FakeIdentity(), StreamFakeEvents()
    policy = PolicyCheck(region="eu", source="gateway", rules=lambda: EU_RULES, events=FakeEvents())
    gate = ConsentGate(identity=identity, policy=policy, events=stream)

    async def say(text: str, message_id: str, channel: int) -> tuple[str, ...]:
        return await gate.withdraw_by_keyword(
            text,
            tenant_id="acme",
            brand_id="b",
            customer_id="c1",
            contact_id="k1",
            channel=channel,
            message_id=message_id,
        )

    sms, voice = common_pb2.CHANNEL_KIND_SMS, common_pb2.CHANNEL_KIND_VOICE
    assert await say("STOP AI", "m1", sms) == ("ai_analysis",)
    assert await say("STOP AI", "m1", sms) == ("ai_analysis",)  # the provider's retry
    assert await say("stop marketing", "m2", voice) == ("marketing",)  # said on a call: no text back
    (confirmation,) = stream.published
    sent = confirmation.message_sent
    assert (confirmation.contact_id, sent.channel, sent.sender) == ("k1", sms, "bot")
    assert sent.text == "Done: your consent to AI analysis is withdrawn. We will not use it from now on."
    assert withdrawal_confirmation(("recording", "transcription")).startswith(
        "Done: your consent to recording and transcription is withdrawn."
    )
