"""Wire the surge guard: its actions on the ACD and the journeys, its events, its predictions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from ccflow.registry import Alias
from ccmesh import telemetry
from ccmesh.configplane.contactcenter import ContactCenter
from ccmesh.service_host import Runtime
from routing.adapters.surge_commands import NatsSurgeCommands
from routing.adapters.surge_guard_codec import fallback_event, wait_message
from routing.config import RoutingConfig
from routing.domain.agents import AcdInputError
from routing.domain.contacts import ContactRecord
from routing.domain.fallback_engine import FallbackOutcome
from routing.domain.overflow import OverflowRule
from routing.service_layer.acd import AcdService
from routing.service_layer.journeys import JourneyService, NotFound
from routing.service_layer.ports import AcdRecords, AcdView, EventSink
from routing.service_layer.surge_guard import SurgeGuard
from routing.service_layer.surge_guard_actions import SurgeActions
from routing.service_layer.surge_guard_policies import policies_following

OverflowRulesNow = Callable[[], dict[tuple[str, str], list[OverflowRule]]]


class JourneyAliases:
    """The journeys' aliases as the guard's `journey` step moves them."""

    def __init__(self, journeys: JourneyService) -> None:
        self._journeys = journeys

    async def alias_of(self, tenant: str, flow: str, alias: str) -> Alias | None:
        try:
            _, index = await self._journeys.get_version(tenant, flow, 0, alias)
        except NotFound:
            return None
        return index.aliases.get(alias)

    async def set_alias(
        self, tenant: str, flow: str, alias: str, version: int, canary_version: int, canary_percent: float
    ) -> Alias:
        return await self._journeys.set_alias(tenant, flow, alias, version, canary_version, canary_percent)


class AcdOutlook:
    """Predicted service levels and waits, from this region's ACD (read when asked: the ACD is
    built after the actions that need it)."""

    def __init__(self, acd: Callable[[], AcdService], view: AcdView) -> None:
        self._acd = acd
        self._view = view

    async def predicted_service_levels(self, tenant: str, queue: str) -> dict[tuple[str, str], float]:
        queues = [queue] if queue else sorted(q for (t, q) in self._view.queues if t == tenant)
        levels: dict[tuple[str, str], float] = {}
        for name in queues:
            try:
                report = await self._acd().queue_stats(tenant, name)
            except AcdInputError:
                continue  # a queue removed meanwhile
            levels[(tenant, name)] = report.predicted_service_level
        return levels

    async def estimated_wait(self, tenant: str, queue: str) -> float:
        try:
            return (await self._acd().queue_stats(tenant, queue)).predicted_average_wait_seconds
        except AcdInputError:
            return -1.0


def surge_actions(
    runtime: Runtime[RoutingConfig],
    records: AcdRecords,
    view: AcdView,
    events: EventSink,
    journeys: JourneyService,
    outlook: AcdOutlook,
) -> SurgeActions:
    region = runtime.config.region

    async def tell(tenant: str, record: ContactRecord, text: str, key: str) -> None:
        await runtime.events.publish(wait_message(tenant, record, text, key, region))

    return SurgeActions(
        records, view, events, JourneyAliases(journeys), tell, outlook.estimated_wait, telemetry.meter()
    )


async def surge_guard(
    runtime: Runtime[RoutingConfig],
    current: Callable[[], ContactCenter | None],
    actions: SurgeActions,
    outlook: AcdOutlook,
) -> tuple[SurgeGuard, Callable[[], Awaitable[None]]]:
    """The guard, listening to the manual commands of the region's instances; and how to stop
    listening."""
    region = runtime.config.region
    commands = NatsSurgeCommands(runtime.nc, region)

    async def publish(outcome: FallbackOutcome) -> None:
        await runtime.events.publish(fallback_event(outcome, region))

    guard = SurgeGuard(policies_following(current), actions, publish, outlook, broadcast=commands.broadcast)
    return guard, await commands.listen(guard.apply_command)


def with_surge_overflow(configured: OverflowRulesNow, actions: SurgeActions) -> OverflowRulesNow:
    """The configured overflow rules plus the `widen` rules of engaged `overflow` steps."""

    def rules_now() -> dict[tuple[str, str], list[OverflowRule]]:
        extra = actions.overflow_rules()
        if not extra:
            return configured()
        merged = {key: list(rules) for key, rules in configured().items()}
        for key, rules in extra.items():
            merged.setdefault(key, []).extend(rules)
        return merged

    return rules_now
