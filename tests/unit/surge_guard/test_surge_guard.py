"""The surge guard with in-memory ACD records: steps done in order, sustained, undone in reverse."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from opentelemetry import metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, NumberDataPoint

from ccflow.registry import Alias, RegistryError
from ccmesh.channels import Channel
from ccmesh.configplane.contactcenter import ContactCenter
from ccsurge.assessment import Assessment, SurgeKey, SurgeMetric
from routing.adapters.surge_commands import decode, encode
from routing.bootstrap_surge import with_surge_overflow
from routing.domain.contacts import ContactRecord
from routing.domain.events import CallbackScheduled, RoutingEvent
from routing.domain.fallback import ManualCommand
from routing.domain.fallback_engine import Engaged, FallbackOutcome, Released, UnknownPolicy
from routing.domain.overflow import OverflowRule
from routing.domain.queueing import QueueSpec, WaitingContact
from routing.service_layer.surge_guard import CommandBroadcast, SurgeGuard
from routing.service_layer.surge_guard_actions import SurgeActions
from routing.service_layer.surge_guard_policies import fallback_policies_of
from tests.unit.fakes.routing_fakes import FakeAcdRecords, FakeAcdView

TENANT = "acme"
KEY = SurgeKey("eu", TENANT, "support", "")

CENTER = {
    "apiVersion": "contactcenter.dev/v1alpha1",
    "kind": "ContactCenter",
    "metadata": {"name": "eu"},
    "spec": {
        "region": "eu",
        "tenants": [{"id": TENANT}, {"id": "globex"}],
        "surge": {
            "policies": [
                {
                    "name": "support-burst",
                    "tenant": TENANT,
                    "queue": "support",
                    "engageAfterSeconds": 60,
                    "releaseAfterSeconds": 120,
                    "actions": [
                        {"type": "callback"},
                        {"type": "journey", "flow": "support", "alias": "live", "version": 2},
                        {"type": "message", "text": "About {wait} minutes."},
                        {"type": "overflow", "targetQueue": "billing"},
                        {"type": "scale"},
                        {"type": "notify"},
                    ],
                }
            ]
        },
    },
}


class FakeAliases:
    def __init__(self) -> None:
        self.aliases: dict[tuple[str, str, str], Alias] = {(TENANT, "support", "live"): Alias(1)}
        self.latest = 2

    async def alias_of(self, tenant: str, flow: str, alias: str) -> Alias | None:
        return self.aliases.get((tenant, flow, alias))

    async def set_alias(
        self, tenant: str, flow: str, alias: str, version: int, canary_version: int, canary_percent: float
    ) -> Alias:
        if version > self.latest:
            raise RegistryError(f"flow {flow!r} has no version {version}")
        self.aliases[(tenant, flow, alias)] = Alias(version, canary_version, canary_percent)
        return self.aliases[(tenant, flow, alias)]


class World:
    def __init__(
        self,
        center: Mapping[str, object] = CENTER,
        broadcast: CommandBroadcast | None = None,
        meter: metrics.Meter | None = None,
        aliases: FakeAliases | None = None,
    ) -> None:
        self.view = FakeAcdView()
        self.records = FakeAcdRecords(self.view)
        self.events: list[RoutingEvent] = []
        self.told: list[tuple[str, str]] = []
        self.published: list[FallbackOutcome] = []
        self.aliases = aliases or FakeAliases()
        self.view.queues[(TENANT, "support")] = QueueSpec(TENANT, "support")
        self.view.queues[(TENANT, "billing")] = QueueSpec(TENANT, "billing")

        async def sink(event: RoutingEvent) -> None:
            self.events.append(event)

        async def tell(tenant: str, record: ContactRecord, text: str, key: str) -> None:
            self.told.append((record.contact.contact_id, text))

        async def wait(tenant: str, queue: str) -> float:
            return 250.0

        async def publish(outcome: FallbackOutcome) -> None:
            self.published.append(outcome)

        self.actions = SurgeActions(self.records, self.view, sink, self.aliases, tell, wait, meter)
        document = ContactCenter.model_validate(center)
        self.guard = SurgeGuard(
            lambda: fallback_policies_of(document),
            self.actions,
            publish,
            clock=lambda: 5000.0,
            broadcast=broadcast,
        )

    async def arrive(
        self, contact_id: str, at: float, queue: str = "support", channel: Channel = Channel.SMS
    ) -> None:
        contact = WaitingContact(contact_id, queue, channel, 5, at)
        await self.records.update_contact(TENANT, contact_id, lambda _: ContactRecord(contact))

    async def interval(self, at: float, alert: bool) -> None:
        value = 40.0 if alert else 4.0
        await self.guard.take_assessments(
            [
                Assessment(
                    KEY, SurgeMetric.ARRIVALS, at, value, 4.0, 8.0 if alert else 0.0, alert, 1 if alert else 0
                )
            ]
        )


async def test_a_burst_engages_every_step_in_order_and_normal_releases_them_in_reverse() -> None:
    world = World()
    await world.arrive("c1", 10.0)
    await world.arrive("c2", 20.0)
    await world.arrive("b1", 15.0, queue="billing")  # not the policy's queue
    await world.arrive("w1", 16.0, channel=Channel.WEBCHAT)  # no number to call: keeps waiting
    await world.interval(60.0, alert=True)
    assert world.published == []
    await world.interval(120.0, alert=True)

    (engaged,) = world.published
    assert isinstance(engaged.decision, Engaged)
    assert engaged.actions == (
        "callback",
        "journey:support/live->v2",
        "message",
        "overflow:billing",
        "scale",
        "notify",
    )
    assert engaged.failed == ()
    assert engaged.decision.evidence.metric == "arrivals" and engaged.decision.evidence.value == 40.0
    # Waiting contacts became call-back requests, first come first told; billing's did not.
    assert [e.contact_id for e in world.events if isinstance(e, CallbackScheduled)] == ["c1", "c2"]
    assert world.records.contacts[(TENANT, "c1")].closed_action == "callback"
    assert world.records.contacts[(TENANT, "b1")].closed_action == ""
    assert world.records.contacts[(TENANT, "w1")].closed_action == ""
    # The wait is told on every channel, in arrival order.
    assert world.told == [("c1", "About 5 minutes."), ("w1", "About 5 minutes."), ("c2", "About 5 minutes.")]
    assert world.aliases.aliases[(TENANT, "support", "live")] == Alias(2)
    (rule,) = world.actions.overflow_rules()[(TENANT, "support")]
    assert (rule.action, rule.target_queue) == ("widen", "billing")

    # A contact arriving while engaged is converted and told at the next interval, once.
    await world.arrive("c3", 130.0)
    await world.interval(180.0, alert=True)
    await world.interval(240.0, alert=False)
    assert [e.contact_id for e in world.events if isinstance(e, CallbackScheduled)] == ["c1", "c2", "c3"]
    assert [c for c, _ in world.told] == ["c1", "w1", "c2", "c3"]

    await world.interval(300.0, alert=False)
    assert len(world.published) == 1  # normal for 60 s of the 120 needed
    await world.interval(360.0, alert=False)
    released = world.published[-1]
    assert isinstance(released.decision, Released) and released.decision.reason == "normal"
    assert released.actions == tuple(reversed(engaged.actions))
    assert released.decision.evidence.value == 4.0
    assert world.aliases.aliases[(TENANT, "support", "live")] == Alias(1)
    assert world.actions.overflow_rules() == {}
    # A call back promised stays promised.
    assert world.records.contacts[(TENANT, "c3")].closed_action == "callback"


async def test_a_step_that_fails_is_reported_and_the_others_still_run() -> None:
    world = World()
    world.aliases.latest = 1  # the fallback version 2 was never published
    await world.arrive("c1", 10.0)
    await world.guard.engage(TENANT, "support-burst", by="sup-1")
    (engaged,) = world.published
    assert "journey:support/live->v2" not in engaged.actions
    assert engaged.failed == ("journey:support/live->v2: flow 'support' has no version 2",)
    assert (
        engaged.actions[0] == "callback"
        and world.records.contacts[(TENANT, "c1")].closed_action == "callback"
    )
    assert isinstance(engaged.decision, Engaged) and engaged.decision.manual
    # Held by the supervisor: normal intervals do not release it.
    for at in range(6000, 7000, 60):
        await world.interval(float(at), alert=False)
    assert len(world.published) == 1
    await world.guard.release(TENANT, "support-burst", by="sup-1")
    released = world.published[-1]
    assert isinstance(released.decision, Released) and released.decision.reason == "manual"


async def test_commands_name_only_the_callers_tenants_policies() -> None:
    world = World()
    with pytest.raises(UnknownPolicy, match="support-burst"):
        await world.guard.engage(TENANT, "nope", by="sup-1")
    with pytest.raises(UnknownPolicy, match="globex"):
        await world.guard.engage("globex", "support-burst", by="sup-1")
    assert world.published == []
    ((policy, state),) = await world.guard.status(TENANT)
    assert (policy.name, str(state.phase)) == ("support-burst", "normal")
    assert await world.guard.status("globex") == []


async def test_a_manual_command_reaches_every_instance_at_the_same_moment() -> None:
    sent: list[ManualCommand] = []

    async def broadcast(command: ManualCommand) -> None:
        sent.append(command)

    first, second = World(broadcast=broadcast), World()
    await first.guard.engage(TENANT, "support-burst", by="sup-1")
    (command,) = sent
    assert (command.action, command.at, command.by) == ("engage", 5000.0, "sup-1")
    await second.guard.apply_command(decode(encode(command)))
    assert [o.decision.at for o in first.published] == [o.decision.at for o in second.published] == [5000.0]
    # Its own command coming back changes nothing.
    await first.guard.apply_command(command)
    assert len(first.published) == 1


@pytest.mark.parametrize(
    ("data", "named"),
    [
        (b"{", "unreadable surge command"),
        (b'{"tenant": "acme", "policy": "p", "action": "explode", "at": 1, "by": "x"}', "action 'explode'"),
        (b'{"tenant": "acme", "policy": "p", "action": "engage", "by": "x"}', "'at'"),
    ],
)
def test_unreadable_commands_are_named(data: bytes, named: str) -> None:
    with pytest.raises(ValueError, match=named):
        decode(data)


def _scaling(reader: InMemoryMetricReader) -> dict[tuple[str, str], float]:
    data = reader.get_metrics_data()
    found: dict[tuple[str, str], float] = {}
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == "contactcenter.surge.scaling_signal":
                    for point in metric.data.data_points:
                        assert isinstance(point, NumberDataPoint)
                        attributes = dict(point.attributes or {})
                        found[(str(attributes["tenant"]), str(attributes["queue"]))] = point.value
    return found


async def test_the_scaling_signal_is_raised_while_engaged_and_lowered_on_release() -> None:
    reader = InMemoryMetricReader()
    world = World(meter=MeterProvider(metric_readers=[reader]).get_meter("test"))
    assert _scaling(reader) == {}
    await world.guard.engage(TENANT, "support-burst", by="sup-1")
    assert _scaling(reader) == {(TENANT, "support"): 1}
    await world.guard.release(TENANT, "support-burst", by="sup-1")
    assert _scaling(reader) == {}


async def test_the_alias_is_restored_after_a_restart_while_engaged_and_kept_if_moved_by_hand() -> None:
    world = World()
    await world.guard.engage(TENANT, "support-burst", by="sup-1")
    assert world.aliases.aliases[(TENANT, "support", "live-before-surge")] == Alias(1)
    # The routing instance restarts: a new guard, the same flows.
    restarted = World(aliases=world.aliases)
    await restarted.guard.engage(TENANT, "support-burst", by="sup-1")
    assert restarted.published[-1].failed == ()
    await restarted.guard.release(TENANT, "support-burst", by="sup-1")
    assert world.aliases.aliases[(TENANT, "support", "live")] == Alias(1)

    await world.guard.release(TENANT, "support-burst", by="sup-1")
    await world.guard.engage(TENANT, "support-burst", by="sup-2")
    await world.aliases.set_alias(TENANT, "support", "live", 1, 2, 10.0)  # somebody starts a canary
    await world.guard.release(TENANT, "support-burst", by="sup-2")
    assert world.aliases.aliases[(TENANT, "support", "live")] == Alias(1, 2, 10.0)


async def test_engaged_overflow_rules_join_the_configured_ones_for_the_routing_pass() -> None:
    world = World()
    configured = OverflowRule("night", "support", "eu-support", depth_over=5)
    rules_now = with_surge_overflow(lambda: {(TENANT, "support"): [configured]}, world.actions)
    assert rules_now() == {(TENANT, "support"): [configured]}
    await world.guard.engage(TENANT, "support-burst", by="sup-1")
    merged = rules_now()[(TENANT, "support")]
    assert merged[0] == configured
    assert [(r.name, r.action, r.target_queue) for r in merged[1:]] == [
        ("surge-support-burst-3", "widen", "billing")
    ]
    await world.guard.release(TENANT, "support-burst", by="sup-1")
    assert rules_now() == {(TENANT, "support"): [configured]}
