"""The surge guard taking up, after a restart, the engagements announced before it."""

from __future__ import annotations

from collections.abc import Sequence

from ccflow.registry import Alias
from ccmesh.configplane.contactcenter import ContactCenter
from routing.adapters.surge_guard_codec import fallback_event
from routing.adapters.surge_guard_log import still_engaged
from routing.domain.fallback import Evidence, FallbackPolicy, manual_evidence
from routing.domain.fallback_engine import Engaged, FallbackOutcome, Phase, Released, StillEngaged
from routing.service_layer.surge_guard import EngagementLog
from routing.service_layer.surge_guard_actions import SAVED_ALIAS_SUFFIX
from routing.service_layer.surge_guard_policies import fallback_policies_of
from tests.unit.surge_guard.test_surge_guard import CENTER, KEY, TENANT, World

POLICY = "support-burst"
BURST = Evidence("arrivals", 40.0, 4.0, 8.0, KEY.label())


def log_of(*found: StillEngaged) -> EngagementLog:
    async def read(policies: Sequence[FallbackPolicy]) -> list[StillEngaged]:
        assert [p.name for p in policies] == [POLICY]
        return list(found)

    return read


def switched_before_the_restart(world: World) -> None:
    world.aliases.aliases[(TENANT, "support", "live")] = Alias(2)
    world.aliases.aliases[(TENANT, "support", "live" + SAVED_ALIAS_SUFFIX)] = Alias(1)


async def test_an_automatic_engagement_is_taken_up_and_released_in_reverse_when_normal_returns() -> None:
    world = World()
    switched_before_the_restart(world)
    restored = await world.guard.restore(log_of(StillEngaged(POLICY, 100.0, BURST, manual=False)))

    assert restored == [POLICY]
    assert world.published == []  # announced before the restart, not again
    (_, state), *_ = await world.guard.status(TENANT)
    assert (state.phase, state.engaged_at, state.evidence, state.manual) == (Phase.ENGAGED, 100.0, BURST, "")
    # What only lived in memory is back; the alias stays on its fallback version.
    (rule,) = world.actions.overflow_rules()[(TENANT, "support")]
    assert rule.target_queue == "billing"
    assert world.aliases.aliases[(TENANT, "support", "live")] == Alias(2)

    await world.interval(200.0, alert=False)
    await world.interval(260.0, alert=False)
    assert world.published == []  # normal for 60 s of the 120 needed
    await world.interval(320.0, alert=False)
    (released,) = world.published
    assert isinstance(released.decision, Released)
    assert released.decision.reason == "normal" and released.decision.engaged_at == 100.0
    assert released.actions == (
        "notify",
        "scale",
        "overflow:billing",
        "message",
        "journey:support/live->v2",
        "callback",
    )
    assert world.aliases.aliases[(TENANT, "support", "live")] == Alias(1)
    assert world.actions.overflow_rules() == {}


async def test_a_manual_engagement_is_taken_up_and_holds_until_released_by_hand() -> None:
    world = World()
    switched_before_the_restart(world)
    still = StillEngaged(POLICY, 100.0, manual_evidence("sup-1"), manual=True)
    assert await world.guard.restore(log_of(still)) == [POLICY]

    for at in (200.0, 300.0, 400.0, 500.0):
        await world.interval(at, alert=False)
    assert world.published == []
    await world.guard.release(TENANT, POLICY, by="sup-1")
    (released,) = world.published
    assert isinstance(released.decision, Released) and released.decision.reason == "manual"
    assert world.aliases.aliases[(TENANT, "support", "live")] == Alias(1)


async def test_a_log_that_cannot_be_read_leaves_every_policy_normal_and_the_guard_working() -> None:
    world = World()

    async def broken(policies: Sequence[FallbackPolicy]) -> list[StillEngaged]:
        raise TimeoutError("events stream did not answer")

    assert await world.guard.restore(broken) == []
    (_, state), *_ = await world.guard.status(TENANT)
    assert state.phase is Phase.NORMAL
    await world.interval(60.0, alert=True)
    await world.interval(120.0, alert=True)
    assert len(world.published) == 1  # engages as if it had just started


async def test_engagements_of_policies_no_longer_configured_are_ignored() -> None:
    world = World()
    assert await world.guard.restore(log_of(StillEngaged("gone", 100.0, BURST, manual=False))) == []
    (_, state), *_ = await world.guard.status(TENANT)
    assert state.phase is Phase.NORMAL
    assert world.actions.overflow_rules() == {}


def test_an_engaged_event_reads_back_as_the_engagement_it_announced() -> None:
    (policy,) = fallback_policies_of(ContactCenter.model_validate(CENTER))
    event = fallback_event(FallbackOutcome(Engaged(policy, 100.5, BURST), ("callback",), ()), "eu")
    assert still_engaged(event) == StillEngaged(POLICY, 100.5, BURST, manual=False)
    released = Released(policy, 200.0, BURST, 100.5, "normal")
    assert still_engaged(fallback_event(FallbackOutcome(released, (), ()), "eu")) is None
