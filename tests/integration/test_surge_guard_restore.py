"""After a restart the surge guard takes up the engagements it finds on a real event stream."""

from __future__ import annotations

from nats.aio.client import Client as NATS

from ccmesh.configplane.contactcenter import ContactCenter
from ccmesh.events import EventPublisher, StreamSettings, ensure_region_streams
from routing.adapters.surge_guard_codec import fallback_event
from routing.adapters.surge_guard_log import StreamEngagementLog
from routing.domain.fallback import Evidence
from routing.domain.fallback_engine import Decision, Engaged, FallbackOutcome, Phase, Released
from routing.service_layer.surge_guard_policies import fallback_policies_of
from tests.unit.surge_guard.test_surge_guard import CENTER, KEY, TENANT, World

REGION = "eu"
POLICY = "support-burst"
BURST = Evidence("arrivals", 40.0, 4.0, 8.0, KEY.label())


async def announce(nc: NATS, decision: Decision) -> None:
    """Published as the running guard publishes it: through the codec and the region's publisher."""
    event = fallback_event(FallbackOutcome(decision, ("callback",), ()), REGION)
    await EventPublisher(nc.jetstream(), REGION).publish(event)


async def phase_after_restart(nc: NATS) -> tuple[list[str], Phase]:
    world = World()
    restored = await world.guard.restore(StreamEngagementLog(nc.jetstream(), REGION))
    (_, state), *_ = await world.guard.status(TENANT)
    return restored, state.phase


async def test_the_last_announcement_of_each_policy_decides_what_a_new_guard_takes_up(nc: NATS) -> None:
    await ensure_region_streams(nc.jetstream(), REGION, StreamSettings())
    (policy,) = fallback_policies_of(ContactCenter.model_validate(CENTER))

    assert await phase_after_restart(nc) == ([], Phase.NORMAL)  # never engaged
    await announce(nc, Engaged(policy, 100.0, BURST))
    assert await phase_after_restart(nc) == ([POLICY], Phase.ENGAGED)
    await announce(nc, Released(policy, 400.0, BURST, 100.0, "normal"))
    assert await phase_after_restart(nc) == ([], Phase.NORMAL)
    await announce(nc, Engaged(policy, 500.0, BURST, manual=True))

    world = World()
    assert await world.guard.restore(StreamEngagementLog(nc.jetstream(), REGION)) == [POLICY]
    (_, state), *_ = await world.guard.status(TENANT)
    assert (state.phase, state.engaged_at, state.manual, state.evidence) == (
        Phase.ENGAGED,
        500.0,
        "engaged",
        BURST,
    )


async def test_without_an_events_stream_every_policy_starts_normal(nc: NATS) -> None:
    assert await phase_after_restart(nc) == ([], Phase.NORMAL)
