"""The supervisor's board: every queue with its live numbers, every agent of the roster with its
state, and the service level per queue and per channel over the last 15 minutes and today.

The roster is identity's list of configured agents, so an agent who never logged in counts as
offline; routing says what each agent is doing now. How long an agent has been in its state is
observed here (level-based: the state seen on each refresh, and since when it has been seen),
since routing keeps no such time; after a gateway restart it counts from the first refresh.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import zoneinfo
from collections.abc import Callable, Collection, Iterable
from typing import Any, Protocol

from ccmesh import channels
from contactcenter.common.v1 import common_pb2
from contactcenter.identity.v1 import identity_pb2
from contactcenter.routing.v1 import routing_pb2

#: The windows the service level is shown for: name -> seconds back from now ("today": from the
#: region's local midnight).
RECENT_WINDOW = ("last15m", 15 * 60.0)
TODAY = "today"
STATES = ("available", "busy", "after_contact_work", "break", "offline")


class QueueStatsClient(Protocol):
    async def ListQueues(self, request: routing_pb2.ListQueuesRequest, **kwargs: Any) -> Any: ...
    async def GetQueueStats(self, request: routing_pb2.GetQueueStatsRequest, **kwargs: Any) -> Any: ...
    async def GetFallbackStatus(
        self, request: routing_pb2.GetFallbackStatusRequest, **kwargs: Any
    ) -> Any: ...
    async def ListCallbacks(self, request: routing_pb2.ListCallbacksRequest, **kwargs: Any) -> Any: ...


class FailedCallbackList(Protocol):
    async def of_tenant(self, tenant_id: str) -> list[dict[str, Any]]: ...


class AgentRoster(Protocol):
    async def ListAgents(self, request: identity_pb2.ListAgentsRequest, **kwargs: Any) -> Any: ...


def seconds_since_local_midnight(now: float, time_zone: str) -> float:
    try:
        zone: dt.tzinfo = zoneinfo.ZoneInfo(time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = dt.UTC
    local = dt.datetime.fromtimestamp(now, zone)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return max(1.0, (local - midnight).total_seconds())


def level(contacts: int, answered: int) -> dict[str, Any]:
    """A measured service level: answered within target / contacts measured (null: none)."""
    return {
        "serviceLevel": answered / contacts if contacts else None,
        "contacts": contacts,
        "answeredInTarget": answered,
    }


class StateClock:
    """Since when each agent has been seen in its current state."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._seen: dict[tuple[str, str], tuple[str, float]] = {}

    def since(self, tenant_id: str, agent_id: str, state: str) -> float:
        key = (tenant_id, agent_id)
        seen = self._seen.get(key)
        if seen is None or seen[0] != state:
            seen = (state, self._clock())
            self._seen[key] = seen
        return seen[1]


class QueueBoard:
    def __init__(
        self,
        routing: QueueStatsClient,
        roster: AgentRoster | None = None,
        *,
        time_zone: Callable[[], str] = lambda: "UTC",
        clock: Callable[[], float] = time.time,
        failed_callbacks: FailedCallbackList | None = None,
    ) -> None:
        self._failed_callbacks = failed_callbacks
        self._routing = routing
        self._roster = roster
        self._time_zone = time_zone
        self._clock = clock
        self._states = StateClock(clock)

    async def board(
        self, tenant_id: str, brands: Collection[str] = (), queues: Collection[str] = ()
    ) -> dict[str, Any]:
        """The board; a brand-scoped supervisor (`brands`) sees its brands' queues and agents only,
        a queue-scoped one (`queues`) those queues only."""
        listed, roster = await asyncio.gather(
            self._routing.ListQueues(
                routing_pb2.ListQueuesRequest(tenant_id=tenant_id, brands=sorted(brands))
            ),
            self._roster_of(tenant_id, brands),
        )
        shown = [q for q in listed.queues if not queues or q.name in queues]
        now = self._clock()
        windows = {
            RECENT_WINDOW[0]: RECENT_WINDOW[1],
            TODAY: seconds_since_local_midnight(now, self._time_zone()),
        }
        stats, levels, surge, callbacks = await asyncio.gather(
            asyncio.gather(
                *(
                    self._routing.GetQueueStats(
                        routing_pb2.GetQueueStatsRequest(tenant_id=tenant_id, queue=q.name)
                    )
                    for q in shown
                )
            ),
            self._service_levels(tenant_id, [q.name for q in shown], windows),
            self._routing.GetFallbackStatus(routing_pb2.GetFallbackStatusRequest(tenant_id=tenant_id)),
            self._callbacks(tenant_id, {q.name for q in shown}),
        )
        agents = self._agents(tenant_id, roster, listed.agents)
        by_state = {state: 0 for state in STATES}
        for agent in agents:
            by_state[agent["state"]] = by_state.get(agent["state"], 0) + 1
        return {
            "tenant": tenant_id,
            "at": now,
            "queues": [_queue(queue, numbers) for queue, numbers in zip(shown, stats, strict=True)],
            "agents": by_state,
            "agentList": agents,
            "serviceLevels": levels,
            # The fallback policies (surge guard): engaged or not, why, since when, doing what.
            "surge": [_fallback(p) for p in surge.policies if not queues or p.queue in queues],
            # Queued call backs: waiting for their turn, being called, and failed (last day).
            "callbacks": callbacks,
        }

    async def _callbacks(self, tenant_id: str, queues: Collection[str]) -> dict[str, list[dict[str, Any]]]:
        """Only the queues the supervisor sees (a brand-scoped one sees its brands' queues)."""
        listed = await self._routing.ListCallbacks(routing_pb2.ListCallbacksRequest(tenant_id=tenant_id))
        failed = await self._failed_callbacks.of_tenant(tenant_id) if self._failed_callbacks else []
        failed = [f for f in failed if f.get("queue") in queues]
        # A failed call back's agent still holds the contact until wrapping it up: failed, not placed.
        over = {f.get("contactId") for f in failed}
        board: dict[str, list[dict[str, Any]]] = {"scheduled": [], "placed": [], "failed": failed}
        for request in listed.callbacks:
            if request.queue in queues and request.state in board and request.contact_id not in over:
                board[request.state].append(
                    {
                        "contactId": request.contact_id,
                        "queue": request.queue,
                        "agentId": request.agent_id,
                        "waitingSince": request.waiting_since,
                        "channel": channels.name_of_kind(request.channel),
                    }
                )
        return board

    async def _roster_of(self, tenant_id: str, brands: Collection[str]) -> list[Any]:
        if self._roster is None:
            return []
        reply = await self._roster.ListAgents(
            identity_pb2.ListAgentsRequest(tenant=common_pb2.TenantRef(tenant_id=tenant_id))
        )
        wanted = set(brands)
        return [a for a in reply.agents if not wanted or not a.brands or wanted & set(a.brands)]

    def _agents(self, tenant_id: str, roster: Iterable[Any], on_board: Iterable[Any]) -> list[dict[str, Any]]:
        routed = {agent.agent_id: agent for agent in on_board}
        names = {agent.agent_id: agent.display_name for agent in roster}
        rows = []
        for agent_id in sorted(set(names) | set(routed)):
            now = routed.get(agent_id)
            state = now.state if now is not None and now.state in STATES else "offline"
            rows.append(
                {
                    "agentId": agent_id,
                    "displayName": names.get(agent_id) or agent_id,
                    "state": state,
                    "since": self._states.since(tenant_id, agent_id, state),
                    "contacts": now.contacts if now is not None else 0,
                    "offers": now.offers if now is not None else 0,
                }
            )
        return rows

    async def _service_levels(
        self, tenant_id: str, queues: list[str], windows: dict[str, float]
    ) -> dict[str, Any]:
        """Per queue (every channel) and per channel (every queue), for each window."""
        kinds = [channels.to_kind(name) for name in channels.NAMES]
        asks = [
            (queue, kind, window)
            for queue in queues
            for kind in (common_pb2.CHANNEL_KIND_UNSPECIFIED, *kinds)
            for window in windows
        ]
        replies = await asyncio.gather(
            *(
                self._routing.GetQueueStats(
                    routing_pb2.GetQueueStatsRequest(
                        tenant_id=tenant_id,
                        queue=queue,
                        channel=kind,  # type: ignore[arg-type]
                        window_seconds=windows[window],
                    )
                )
                for queue, kind, window in asks
            )
        )
        per_queue: dict[str, dict[str, Any]] = {q: {} for q in queues}
        counts: dict[str, dict[str, list[int]]] = {
            name: {w: [0, 0] for w in windows} for name in channels.NAMES
        }
        for (queue, kind, window), reply in zip(asks, replies, strict=True):
            if kind == common_pb2.CHANNEL_KIND_UNSPECIFIED:
                per_queue[queue][window] = level(reply.measured_contacts, reply.answered_within_target)
            else:
                total = counts[channels.name_of_kind(kind)][window]
                total[0] += reply.measured_contacts
                total[1] += reply.answered_within_target
        per_channel = {
            name: {window: level(*numbers) for window, numbers in by_window.items()}
            for name, by_window in counts.items()
        }
        return {"windows": list(windows), "queues": per_queue, "channels": per_channel}


def _queue(queue: routing_pb2.QueueDefinition, stats: Any) -> dict[str, Any]:
    wait = stats.predicted_average_wait_seconds
    return {
        "name": queue.name,
        "brand": queue.brand,
        "requiredSkills": list(queue.required_skills),
        "depth": stats.depth,
        "longestWaitSeconds": round(stats.longest_wait_seconds, 3),
        "staffedAgents": stats.staffed_agents,
        # -1 on the wire means "nothing measured yet" / "unbounded"; JSON says null.
        "serviceLevel": None if stats.measured_service_level < 0 else stats.measured_service_level,
        "serviceLevelTarget": {
            "answeredFraction": stats.target.answered_fraction,
            "withinSeconds": stats.target.within_seconds,
        },
        "meetsTarget": stats.meets_target,
        "predictedServiceLevel": stats.predicted_service_level,
        "predictedAverageWaitSeconds": None if wait < 0 else wait,
        # What the prediction rests on, so a supervisor can judge it: arrivals over the sliding
        # window, the measured handle time (and on how many contacts), and the estimate that
        # counts customers who give up (Erlang A) beside the one that assumes nobody does.
        "arrivalsPerHour": round(stats.arrivals_per_hour, 2),
        "averageHandleSeconds": round(stats.average_handle_seconds, 1),
        "handleTimeSamples": stats.handle_time_samples,
        "abandonedInWindow": stats.abandoned_in_window,
        "abandonmentAwareServiceLevel": stats.abandonment_aware_service_level,
        "predictedAbandonRate": stats.predicted_abandon_rate,
        "overloaded": stats.overloaded,
        # The staffing answer (Erlang A): agents that reach the target, how many more that is.
        "agentsForTarget": stats.agents_for_target,
        "additionalAgentsNeeded": stats.additional_agents_needed,
        "staffingReachable": stats.staffing_reachable,
    }


def _fallback(policy: routing_pb2.FallbackPolicyStatus) -> dict[str, Any]:
    return {
        "policy": policy.policy,
        "queue": policy.queue,
        "phase": policy.phase,
        "manual": policy.manual,
        "engagedAt": policy.engaged_at or None,
        "metric": policy.metric,
        "value": policy.value,
        "baseline": policy.baseline,
        "score": policy.score,
        "actions": list(policy.actions),
    }
