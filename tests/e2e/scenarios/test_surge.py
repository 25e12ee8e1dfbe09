"""End to end: routing's surge detectors notice a burst by themselves, and the fallback policy
engages and releases on them.

One platform as `ccctl up` starts it, its detectors judging every second, for both scenarios.

The guard: a fallback policy is applied with `ccctl apply` (one naming an unknown queue and flow
version first: refused, naming the fields). Six SMS customers write at once while the three
agents are not yet available: the detectors see the queue surge, the policy engages
(FallbackEngaged with the metric, its baseline and score, and the actions), every waiting
customer is offered the call back on their SMS, and the journey alias points at the fallback
version. The agents take the call-back requests in the order the customers came, and each
accept places the call at the provider sandbox. With the queue drained the detectors calm down
and, once that held for the policy's release time, the policy releases by itself
(FallbackReleased, reason normal; the alias is back). A supervisor then engages and releases it
by hand with `ccctl surge engage|release` (calm does not release a person's engagement), and
the policy is taken out. Nothing is lost: every customer was called.

The detectors, judging from then on: the queue is quiet (nothing new is detected); then eight
SMS customers write at once with nobody available: `SurgeDetected` goes on the region's stream
for the support queue (and its SMS channel), with the metric, its value above the baseline, the
score and the direction, once per signal however long the surge lasts. Every customer is queued.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from ccctl.flow_seed import sources_of
from ccmesh.configplane.surge import DEFAULT_CALLBACK_TEXT
from ccsandbox.client import SandboxClient
from ccsurge.settings import DetectorSettings
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from contactcenter.identity.v1 import identity_pb2, identity_pb2_grpc
from contactcenter.routing.v1 import routing_pb2, routing_pb2_grpc
from tests.e2e.harness import EXAMPLES, RunningRegion, WsClient, eventually, running_region

#: One platform start for both scenarios (the first test's budget includes it).
pytestmark = pytest.mark.timeout(300)
REPO = Path(__file__).resolve().parents[3]
AGENTS = ("surge-a1", "surge-a2", "surge-a3")
PHONES = [f"+4477009003{n:02d}" for n in range(1, 7)]
DETECT_PHONES = [f"+4477009004{n:02d}" for n in range(1, 9)]
#: Fast detectors, so a burst is judged within seconds instead of minutes, and an alert clears
#: after two calm seconds (the policy's own release time is the hysteresis on top).
SURGE_ENV = {
    "CC_SURGE_INTERVAL_SECONDS": "1",
    "CC_SURGE_MIN_DURATION_SECONDS": "1",
    "CC_SURGE_CLEAR_DURATION_SECONDS": "2",
    "CC_SURGE_SENSITIVITY": "2",
}
#: Seconds the policy waits, everything calm, before it releases by itself.
RELEASE_AFTER_SECONDS = 3


@pytest.fixture(scope="module")
def surge_region(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegion]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in SURGE_ENV.items():
            patch.setenv(name, value)
        # One routing instance: the test reads one guard's state (instances each judge alike).
        with running_region(tmp_path_factory.mktemp("surge"), replicas={"routing": 1}) as region:
            yield region


def detected(events: list[events_pb2.Event], since: float = 0.0) -> list[events_pb2.Event]:
    """The SurgeDetected events of intervals ending after `since`."""
    return [
        e
        for e in events
        if e.WhichOneof("payload") == "surge_detected" and e.surge_detected.interval_end.seconds > since
    ]


def _center_with(policies: list[dict[str, Any]], path: Path) -> Path:
    documents = list(yaml.safe_load_all((EXAMPLES / "eu.yaml").read_text()))
    for document in documents:
        if document and document.get("kind") == "ContactCenter":
            document["spec"]["surge"] = {"policies": policies}
    path.write_text(yaml.safe_dump_all(documents))
    return path


def _policy(**overrides: Any) -> dict[str, Any]:
    return {
        "name": "support-burst",
        "tenant": "acme",
        "queue": "support",
        "metrics": ["waiting", "arrivals"],
        "engageAfterSeconds": 0,
        "releaseAfterSeconds": RELEASE_AFTER_SECONDS,
        "actions": [
            {"type": "callback"},
            {"type": "journey", "flow": "support", "alias": "live", "version": 2},
            {"type": "notify"},
        ],
        **overrides,
    }


async def _publish_fallback_version(region: RunningRegion, routing: Any) -> None:
    """Version 2 of the example journey: the fallback the policy switches `live` to."""
    sources = sources_of(EXAMPLES / "flows" / "support")
    files = [routing_pb2.FlowSourceFile(name=n, content=t) for n, t in sources]
    # A comment is enough to make a new version (a self-service-first variant in real life).
    files[0] = routing_pb2.FlowSourceFile(
        name=files[0].name, content=files[0].content + "\n# surge fallback\n"
    )
    reply = await routing.PublishFlow(
        routing_pb2.PublishFlowRequest(tenant_id="acme", flow="support", files=files)
    )
    assert reply.version == 2, reply


async def _agents(region: RunningRegion, nc: Any) -> None:
    identity = region.stub(nc, identity_pb2_grpc.IdentityServiceStub, region.token("admin"))
    for agent_id in AGENTS:
        await identity.UpsertAgent(
            identity_pb2.UpsertAgentRequest(
                agent=identity_pb2.Agent(
                    tenant=common_pb2.TenantRef(tenant_id="acme"),
                    agent_id=agent_id,
                    display_name=agent_id,
                    brands=["acme-retail"],
                    queues=["support"],
                    languages=["en", "de", "fr", "es"],
                    home_region=region.region,
                    channels=[
                        identity_pb2.ChannelCapacity(channel=common_pb2.CHANNEL_KIND_SMS, max_concurrent=1)
                    ],
                )
            )
        )


async def _take_one(region: RunningRegion, agent: WsClient, name: str) -> str:
    """Accept the next offer, talk once the customer answered the call placed for it, and wrap
    it up; the contact id taken."""
    offer = await agent.expect("offer", seconds=45, channel="sms")
    contact_id = offer["contactId"]
    await agent.send(type="accept", id=f"a-{contact_id}", reservationId=offer["reservationId"])
    await agent.expect("accepted", id=f"a-{contact_id}")
    # The answered call joins the contact (its first message was the SMS). An agent wraps up
    # after the call: a call answered for a contact already closed would open a new one.
    await region.wait_event("message_received", contact_id=contact_id, count=2)
    await agent.send(
        type="wrap_up", id=f"w-{offer['contactId']}", contactId=offer["contactId"], disposition="called"
    )
    await agent.expect("wrapped_up", seconds=45, id=f"w-{offer['contactId']}")
    return str(offer["contactId"])


async def test_a_burst_engages_callbacks_and_the_fallback_journey_which_release_by_themselves_after(
    surge_region: RunningRegion, tmp_path: Path
) -> None:
    region = surge_region
    async with region.connect() as nc:
        routing = region.stub(nc, routing_pb2_grpc.RoutingServiceStub, region.token("admin"))
        await _publish_fallback_version(region, routing)
        await _agents(region, nc)

        # Bad policies are refused on apply, naming the field; nothing is stored.
        bad = _policy(queue="no-such-queue", actions=[{"type": "journey", "flow": "support", "version": 9}])
        refused = region.ccctl(
            "apply",
            "-f",
            str(_center_with([bad], tmp_path / "bad.yaml")),
            "--nats-url",
            region.nats_url,
        )
        assert refused.returncode != 0, refused.stdout
        named = "spec.surge.policies[0].queue (policy 'support-burst'): tenant 'acme' has no queue"
        assert f"{named} 'no-such-queue'" in refused.stderr
        assert "spec.surge.policies[0].actions[0].flow (policy 'support-burst')" in refused.stderr
        assert "version 9" in refused.stderr
        applied = region.ccctl(
            "apply",
            "-f",
            str(_center_with([_policy()], tmp_path / "good.yaml")),
            "--nats-url",
            region.nats_url,
        )
        assert applied.returncode == 0, applied.stderr

        async def policy_known() -> Any:
            reply = await routing.GetFallbackStatus(routing_pb2.GetFallbackStatusRequest(tenant_id="acme"))
            return reply.policies or None

        (known,) = await eventually(policy_known)
        assert (known.policy, known.phase) == ("support-burst", "normal")
        # A queue's detectors learn their first intervals before judging any (a queue already busy
        # when routing starts is no surge); the example queues appear as the platform is seeded,
        # moments ago: let them see a few calm intervals first, or the burst is their normal.
        await asyncio.sleep(
            (DetectorSettings().cold_min_samples + 3) * float(SURGE_ENV["CC_SURGE_INTERVAL_SECONDS"])
        )

        sandbox_url = region.platform.sandbox.url  # type: ignore[union-attr]
        async with region.http() as http, SandboxClient(sandbox_url) as sandbox:
            agents = [await region.agent(http, a, available=False) for a in AGENTS]
            # The burst: six customers at once, nobody available yet.
            for phone in PHONES:
                status, _ = await region.sms(http, phone, "Where is my order? It is very late.")
                assert status == 200

            (engaged,) = await region.wait_event("fallback_engaged")
            payload = engaged.fallback_engaged
            assert (payload.policy, payload.queue, payload.manual) == ("support-burst", "support", False)
            assert list(payload.actions) == ["callback", "journey:support/live->v2", "notify"], payload
            assert not payload.failed_actions, payload
            evidence = payload.evidence
            assert evidence.metric in ("waiting", "arrivals") and evidence.value > evidence.baseline, evidence
            assert evidence.score > 0 and evidence.where.startswith("eu/acme/support"), evidence

            # Every customer is offered the call back on their channel, and keeps their place.
            offers = await sandbox.wait_for(
                lambda m: m["to"] in PHONES and m["text"] == DEFAULT_CALLBACK_TEXT,
                count=len(PHONES),
                seconds=45,
            )
            assert sorted(m["to"] for m in offers) == sorted(PHONES)
            # The supervisor's board shows the engagement and why.
            headers = {"Authorization": f"Bearer {region.token('supervisor', 'sup-1')}"}
            async with http.get(f"{region.http_base}/v1/tenants/acme/queues", headers=headers) as response:
                board = await response.json()
            (shown,) = board["surge"]
            assert (shown["policy"], shown["phase"]) == ("support-burst", "engaged"), shown
            assert shown["metric"] in ("waiting", "arrivals", "longest_wait") and shown["engagedAt"], shown
            live = await routing.GetFlowVersion(
                routing_pb2.GetFlowVersionRequest(tenant_id="acme", flow="support", alias="live")
            )
            assert live.version == 2

            # The agents take the call-back requests in the order the customers came: each accept
            # places the call to that customer at the provider.
            for agent in agents:
                await agent.send(type="set_state", id="available", state="available")
                await agent.expect("state", id="available")
            first = await asyncio.gather(
                *(_take_one(region, agent, name) for agent, name in zip(agents, AGENTS, strict=True))
            )
            second = await asyncio.gather(
                *(_take_one(region, agent, name) for agent, name in zip(agents, AGENTS, strict=True))
            )
            placed = await region.wait_event("callback_requested", count=len(PHONES))
            assert {e.contact_id for e in placed} == set(first) | set(second)
            assert len(set(first) | set(second)) == len(PHONES)  # nothing lost, nobody twice

            calls = await sandbox.wait_for(
                lambda m: m["kind"] == "call" and m["to"] in PHONES, count=len(PHONES), seconds=45
            )
            assert all(c["status"] == 201 for c in calls), calls
            order = [c["to"] for c in calls]
            assert sorted(order[:3]) == sorted(PHONES[:3]) and sorted(order[3:]) == sorted(PHONES[3:]), order

            # The queue drained: the detectors calm down and, calm for the policy's release time,
            # the policy releases by itself; the alias is back.
            (release,) = await region.wait_event("fallback_released")
            # Each answered call joined its customer's contact: none opened a contact of its own.
            after = engaged.occurred_at.seconds
            opened = [
                e.contact_id
                for e in await region.events()
                if e.WhichOneof("payload") == "contact_created" and e.occurred_at.seconds > after
            ]
            assert not opened, opened
            automatic = release.fallback_released
            assert (automatic.policy, automatic.reason) == ("support-burst", "normal"), automatic
            assert list(automatic.actions) == ["notify", "journey:support/live->v2", "callback"], automatic
            # What it was measured against: the policy's signal now, back near its baseline (calm
            # by score: the last customers may still be on their way to an agent).
            calm = automatic.evidence
            assert calm.metric in ("waiting", "arrivals") and calm.where.startswith("eu/acme/support"), calm
            assert calm.score < evidence.score, (calm, evidence)
            (status,) = (
                await routing.GetFallbackStatus(routing_pb2.GetFallbackStatusRequest(tenant_id="acme"))
            ).policies
            assert (status.phase, status.manual) == ("normal", ""), status
            live = await routing.GetFlowVersion(
                routing_pb2.GetFlowVersionRequest(tenant_id="acme", flow="support", alias="live")
            )
            assert live.version == 1
            for agent in agents:
                await agent.send(type="set_state", id="offline", state="offline")
                await agent.expect("state", id="offline")
                await agent.ws.close()

        # A supervisor engages it by hand, with nothing surging: it holds until released by hand.
        engaged_by_hand = region.ccctl(
            *("surge", "engage", "support-burst", "--tenant", "acme", "--by", "sup-1"),
            *("--nats-url", region.nats_url),
        )
        assert engaged_by_hand.returncode == 0, engaged_by_hand.stderr
        assert "manual engaged" in engaged_by_hand.stdout, engaged_by_hand.stdout
        manual = (await region.wait_event("fallback_engaged", count=2))[-1].fallback_engaged
        assert (manual.policy, manual.manual) == ("support-burst", True), manual
        assert list(manual.actions) == ["callback", "journey:support/live->v2", "notify"], manual
        live = await routing.GetFlowVersion(
            routing_pb2.GetFlowVersionRequest(tenant_id="acme", flow="support", alias="live")
        )
        assert live.version == 2
        # Quiet intervals pass and the calm does not release a person's engagement.
        await asyncio.sleep(RELEASE_AFTER_SECONDS + 2)  # not an assertion on time: calm intervals pass
        shown_by_ccctl = region.ccctl("surge", "status", "--tenant", "acme", "--nats-url", region.nats_url)
        assert shown_by_ccctl.returncode == 0, shown_by_ccctl.stderr
        assert "support-burst" in shown_by_ccctl.stdout, shown_by_ccctl.stdout
        assert "engaged (manual engaged)" in shown_by_ccctl.stdout, shown_by_ccctl.stdout
        released = region.ccctl(
            "surge",
            "release",
            "support-burst",
            "--tenant",
            "acme",
            "--by",
            "sup-1",
            "--nats-url",
            region.nats_url,
        )
        assert released.returncode == 0, released.stderr
        assert "manual released" in released.stdout, released.stdout
        release = (await region.wait_event("fallback_released", count=2))[-1]
        assert release.fallback_released.reason == "manual"
        assert list(release.fallback_released.actions) == ["notify", "journey:support/live->v2", "callback"]
        live = await routing.GetFlowVersion(
            routing_pb2.GetFlowVersionRequest(tenant_id="acme", flow="support", alias="live")
        )
        assert live.version == 1
        assert len(await region.wait_event("fallback_engaged")) == 2  # nothing engaged it meanwhile

        # The policy is taken out again, so the rest of the module's region runs without a guard.
        removed = region.ccctl(
            "apply",
            "-f",
            str(_center_with([], tmp_path / "none.yaml")),
            "--nats-url",
            region.nats_url,
        )
        assert removed.returncode == 0, removed.stderr

        async def policy_gone() -> bool | None:
            reply = await routing.GetFallbackStatus(routing_pb2.GetFallbackStatusRequest(tenant_id="acme"))
            return True if not reply.policies else None

        await eventually(policy_gone)


async def test_a_burst_is_detected_once_per_signal_and_nothing_is_lost(surge_region: RunningRegion) -> None:
    region = surge_region
    # Whatever the module's other scenario left: the test judges what comes from now on.
    since = time.time()
    queued_before = len([e for e in await region.events() if e.WhichOneof("payload") == "contact_queued"])
    # Quiet seconds first, so the detectors have a normal to judge against: nothing detected.
    await asyncio.sleep(6)  # not an assertion on time: the quiet the detectors learn from
    # (The earlier scenario's late answers may still weigh on the measured service level.)
    quiet = [e for e in detected(await region.events(), since) if e.surge_detected.metric != "service_level"]
    assert quiet == []

    async with region.http() as http:
        for phone in DETECT_PHONES:
            status, _ = await region.sms(http, phone, "Where is my order? It is very late.")
            assert status == 200
    queued = (await region.wait_event("contact_queued", count=queued_before + len(DETECT_PHONES)))[
        queued_before:
    ]

    async def surge_on_support() -> list[events_pb2.Event] | None:
        found = [e for e in detected(await region.events(), since) if e.surge_detected.queue == "support"]
        metrics = {e.surge_detected.metric for e in found}
        return found if {"waiting"} <= metrics else None

    found = await eventually(surge_on_support)
    for event in found:
        surge = event.surge_detected
        assert (event.tenant.tenant_id, event.region, event.source) == (
            "acme",
            region.region,
            "routing-surge",
        )
        if surge.metric == "service_level":  # harmful when it falls (the earlier scenario's waits)
            assert surge.direction == -1 and surge.value < surge.baseline and surge.score < 0, surge
        else:
            assert surge.direction == 1 and surge.value > surge.baseline and surge.score > 0, surge
        assert surge.interval_seconds == 1 and surge.interval_end.seconds > 0
        assert surge.channel in (common_pb2.CHANNEL_KIND_UNSPECIFIED, common_pb2.CHANNEL_KIND_SMS)
    waiting = next(e.surge_detected for e in found if e.surge_detected.metric == "waiting")
    assert waiting.value >= 4, waiting

    # The customers still wait (nobody is available): the alert holds and is not told again.
    await asyncio.sleep(3)  # not an assertion on time: intervals pass while the surge lasts
    again = [e for e in detected(await region.events(), since) if e.surge_detected.queue == "support"]
    signals = Counter(
        (e.surge_detected.queue, e.surge_detected.channel, e.surge_detected.metric) for e in again
    )
    assert all(count == 1 for count in signals.values()), signals
    assert len({e.contact_id for e in queued}) == len(DETECT_PHONES)
