"""The executor as a state machine, overlays at named points, policies, canary aliases."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from ccflow.diff import diff_flows
from ccflow.effects import (
    AiResult,
    AwaitInput,
    CallbackAnswered,
    HandOff,
    Input,
    IntegrationReply,
    SendPrompt,
)
from ccflow.executor import Executor, JourneyError, Policy
from ccflow.journey import Journey
from ccflow.loader import bundle_from_sources, load_paths, parse_text
from ccflow.model import FlowPolicy
from ccflow.overlays import render, validate_bundle
from ccflow.registry import FlowIndex, RegistryError, pick_version, publish, set_alias

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "flows"
NOW = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def bundle():  # type: ignore[no-untyped-def]
    return load_paths([EXAMPLES / "support"])


def journey(**fields) -> Journey:  # type: ignore[no-untyped-def]
    return Journey(journey_id="c-1", flow="support", **fields)


def test_overlay_at_a_named_point_changes_only_that_regions_flow(bundle) -> None:  # type: ignore[no-untyped-def]
    overlay = """
apiVersion: contactcenter.dev/v1alpha1
kind: FlowOverlay
metadata: {name: eu-recording}
spec:
  flow: support
  match: {region: eu}
  insert:
    - at: before-queue
      nodes:
        - {id: eu-recording-notice, kind: message, prompt: recording-notice, next: $continue}
"""
    base_sources = [(p.name, p.read_text()) for p in sorted((EXAMPLES / "support").rglob("*.yaml"))]
    without_eu = [(n, t) for n, t in base_sources if n != "eu.yaml"]
    before = bundle_from_sources(without_eu)
    after = bundle_from_sources([*without_eu, ("eu-recording.yaml", overlay)])
    validate_bundle(after)
    for region in ("us", "latam", "ap-southeast", None):
        assert (
            diff_flows(
                render(before, "support", {"region": region})[0],
                render(after, "support", {"region": region})[0],
            )
            == []
        )
    eu_diff = diff_flows(
        render(before, "support", {"region": "eu"})[0], render(after, "support", {"region": "eu"})[0]
    )
    assert eu_diff == [
        "~ node before-queue: next: set-priority -> eu-recording-notice",
        "+ node eu-recording-notice (message): {next: set-priority, prompt: recording-notice}",
    ]


def test_a_journey_waiting_for_input_survives_a_round_trip_through_json(bundle) -> None:  # type: ignore[no-untyped-def]
    flow, _ = render(bundle, "support", {"region": "eu"})
    first = journey(region="eu", channel="chat", attributes={"order": "A-1"})
    executor = Executor(flow)
    executor.start(first, NOW)
    executor.resume(first, AiResult("billing"), NOW)
    executor.resume(first, AiResult(0.1), NOW)
    executor.resume(first, IntegrationReply({}), NOW)
    effects = executor.resume(first, IntegrationReply({}), NOW)
    assert first.status == "waiting" and first.node == "eu-offer"
    assert effects == [AwaitInput("eu-offer", "self-service-offer", "text", 30.0, 0)]
    stored = orjson.dumps(first.to_dict())
    restored = Journey.from_dict(orjson.loads(stored))
    assert restored == first
    # A fresh executor (another process) continues the restored journey the same way.
    Executor(flow).resume(restored, Input("no"), NOW)
    assert restored.outcome["queue"] == "eu-support" and restored.outcome["priority"] == 15
    assert restored.outcome["attributes"]["order"] == "A-1"
    assert restored.outcome["attributes"]["self_service"] == "no"


def test_a_callback_continues_the_same_journey_on_the_new_channel(bundle) -> None:  # type: ignore[no-untyped-def]
    flow, _ = render(bundle, "support", {"region": "ap-southeast", "channel": "chat"})
    contact = journey(region="ap-southeast", channel="chat", attributes={"topic": "refund"})
    executor = Executor(flow)
    executor.start(contact, NOW)
    assert (contact.status, contact.waiting_for, contact.node) == (
        "waiting",
        "callback",
        "apse-offer-callback",
    )
    effects = executor.resume(contact, CallbackAnswered("voice"), NOW)
    assert contact.channel == "voice"
    assert effects == [HandOff("apse-voice-queue", "apse-voice", 40, {"topic": "refund", "fast_path": True})]


def test_events_a_journey_does_not_wait_for_are_refused(bundle) -> None:  # type: ignore[no-untyped-def]
    flow, _ = render(bundle, "support", {})
    contact = journey()
    executor = Executor(flow)
    executor.start(contact, NOW)
    with pytest.raises(JourneyError, match="waits for ai at node 'detect-intent', got Input"):
        executor.resume(contact, Input("1"), NOW)
    assert contact.node == "detect-intent"


def test_parallel_branches_both_run_before_the_join(bundle) -> None:  # type: ignore[no-untyped-def]
    flow, _ = render(bundle, "support", {})
    contact = journey()
    executor = Executor(flow)
    executor.start(contact, NOW)
    executor.resume(contact, AiResult("orders"), NOW)
    executor.resume(contact, AiResult(0.0), NOW)
    assert contact.node == "fetch-account"
    executor.resume(contact, IntegrationReply({"open_orders": 2}), NOW)
    assert contact.node == "fetch-cases"
    executor.resume(contact, IntegrationReply({"open": 1}), NOW)
    assert contact.attributes["account"] == {"open_orders": 2} and contact.attributes["cases"] == {"open": 1}
    assert contact.path.index("fetch-cases") < contact.path.index("account-ready")
    assert contact.outcome["queue"] == "general-support"


def test_a_policy_inserts_a_step_into_running_journeys_that_match(bundle) -> None:  # type: ignore[no-untyped-def]
    text = (EXAMPLES / "policies" / "surge.yaml").read_text()
    (document,) = parse_text(text, "surge.yaml")
    assert isinstance(document, FlowPolicy)
    flow, _ = render(bundle, "support", {"region": "latam"})
    waiting_latam = journey(region="latam", channel="voice")
    waiting_eu = journey(region="eu", channel="voice")
    for contact in (waiting_latam, waiting_eu):
        Executor(flow).start(contact, NOW)
        assert contact.waiting_for == "ai"
    # The policy arrives while both journeys wait; only the matching one gets the step.
    with_policy = Executor(flow, [Policy(document.metadata.name, document.spec)])
    effects_latam = with_policy.resume(waiting_latam, AiResult("billing"), NOW)
    effects_eu = with_policy.resume(waiting_eu, AiResult("billing"), NOW)
    assert SendPrompt("surge-message", "surge-notice") in effects_latam
    assert waiting_latam.policies_applied == ["surge"]
    assert "policy:surge/surge-message" in waiting_latam.path
    assert not any(isinstance(e, SendPrompt) for e in effects_eu)
    assert waiting_eu.policies_applied == []
    # Applied once per journey, not at every step.
    effects_again = with_policy.resume(waiting_latam, AiResult(0.0), NOW)
    assert SendPrompt("surge-message", "surge-notice") not in effects_again


def test_canary_at_ten_percent_takes_ten_percent_of_5000_contacts() -> None:
    index = FlowIndex(flow="support")
    for digest in ("a", "b"):
        publish(index, digest)
    set_alias(index, "live", 1, canary_version=2, canary_percent=10)
    picks = [pick_version(index, "live", f"contact-{n}") for n in range(5000)]
    share = picks.count(2) / len(picks)
    assert 0.08 <= share <= 0.12
    # Sticky: the same contact always gets the same version.
    assert [pick_version(index, "live", f"contact-{n}") for n in range(200)] == picks[:200]
    # Rollback is moving the alias: nobody gets the canary any more.
    set_alias(index, "live", 1)
    assert {pick_version(index, "live", f"contact-{n}") for n in range(1000)} == {1}


def test_publishing_identical_sources_makes_no_new_version() -> None:
    index = FlowIndex(flow="support")
    assert publish(index, "abc") == (1, True)
    assert publish(index, "abc") == (1, False)
    assert publish(index, "def") == (2, True)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((3,), "has no version 3"),
        ((1, 9, 10), "has no version 9"),
        ((1, 2, 120), "within 0..100"),
        ((0,), "must point at a version >= 1"),
    ],
)
def test_bad_aliases_are_refused_and_change_nothing(args: tuple[int, ...], message: str) -> None:
    index = FlowIndex(flow="support")
    publish(index, "a")
    publish(index, "b")
    set_alias(index, "live", 1)
    with pytest.raises(RegistryError, match=message):
        set_alias(index, "live", *args)
    assert index.aliases["live"].version == 1


def test_executions_and_errors_are_counted_per_node(bundle) -> None:  # type: ignore[no-untyped-def]
    flow, _ = render(bundle, "support", {"region": "us"})
    us_day = datetime(2026, 3, 3, 15, 0, tzinfo=UTC)  # 10:00 in New York: open
    executor = Executor(flow)
    contact = journey(region="us", channel="voice")
    executor.start(contact, us_day)
    executor.resume(contact, AiResult("billing"), us_day)
    executor.resume(contact, AiResult(0.0), us_day)
    executor.resume(contact, IntegrationReply({}), us_day)
    executor.resume(contact, IntegrationReply({}), us_day)
    # The estimate lacks `seconds`: the SLA expressions fail at run time and count as errors.
    executor.resume(contact, IntegrationReply({"minutes": 2}), us_day)
    assert contact.outcome["queue"] == "us-support"
    assert executor.stats.executions["welcome"] == 1
    assert executor.stats.executions["us-sla"] == 1
    assert executor.stats.errors == {"us-sla": 2}
    assert [e["node"] for e in contact.errors] == ["us-sla", "us-sla"]
    assert "expected_wait_seconds" not in contact.attributes
