"""The ACD RPCs of RoutingService: decode, check tenant and role, call one use case, encode.

Agents may act only on themselves (their token's subject is their agent id); supervisors and
admins may act on any agent of their tenant.
"""

from __future__ import annotations

import math
from typing import Any, NoReturn

import grpc

from ccmesh.access import AccessControl
from ccmesh.auth import AuthError, Caller
from ccmesh.channels import Channel
from ccmesh.kv import KVError
from contactcenter.common.v1 import common_pb2
from contactcenter.routing.v1 import routing_pb2
from routing.adapters.acd_store import UnknownKey
from routing.domain.agents import (
    DEFAULT_CAPACITY,
    AcdInputError,
    AgentProfile,
    AgentState,
    CapacityGroup,
    channel_of_kind,
)
from routing.domain.brand_sharing import parse_queue_setting
from routing.domain.hours import BusinessHours
from routing.domain.language_rule import language_rule
from routing.domain.prediction import ARRIVAL_WINDOW_SECONDS, QueuePrediction
from routing.domain.queueing import (
    BullseyeRing,
    QueueSpec,
    ServiceLevelTarget,
    WaitingContact,
    service_level_target,
)
from routing.domain.reservations import AgentLedger, ReservationError, ReservationState
from routing.service_layer.acd import AcdService, Transfer

QUEUE_ADMIN_ROLES = frozenset({"admin"})
AGENT_ADMIN_ROLES = frozenset({"admin", "supervisor"})
AGENT_ROLES = frozenset({"admin", "supervisor", "agent"})
ENQUEUE_ROLES = frozenset({"admin", "integration"})
EXPLAIN_ROLES = frozenset({"admin", "supervisor"})
#: The agent holding the contact (checked against its token), or a supervisor or admin.
TRANSFER_ROLES = frozenset({"admin", "supervisor", "agent"})

_STATES: dict[int, AgentState] = {
    routing_pb2.AGENT_STATE_OFFLINE: AgentState.OFFLINE,
    routing_pb2.AGENT_STATE_AVAILABLE: AgentState.AVAILABLE,
    routing_pb2.AGENT_STATE_BUSY: AgentState.BUSY,
    routing_pb2.AGENT_STATE_AFTER_CONTACT_WORK: AgentState.AFTER_CONTACT_WORK,
    routing_pb2.AGENT_STATE_BREAK: AgentState.BREAK,
}
_STATE_NUMBERS: dict[AgentState, Any] = {v: k for k, v in _STATES.items()}
_STRATEGIES: dict[int, str] = {
    routing_pb2.ROUTING_STRATEGY_UNSPECIFIED: "longest_idle",
    routing_pb2.ROUTING_STRATEGY_LONGEST_IDLE: "longest_idle",
    routing_pb2.ROUTING_STRATEGY_MOST_SKILLED: "most_skilled",
    routing_pb2.ROUTING_STRATEGY_LEAST_OCCUPIED: "least_occupied",
}


def queue_spec(tenant: str, message: routing_pb2.QueueDefinition, region: str) -> QueueSpec:
    if not message.name:
        raise AcdInputError("queue.name", "is required")
    if message.strategy not in _STRATEGIES:
        raise AcdInputError("queue.strategy", f"unknown strategy {message.strategy}")
    rings = tuple(BullseyeRing(r.after_seconds, r.min_proficiency) for r in message.rings) or (
        BullseyeRing(0, 1),
    )
    default_level = ServiceLevelTarget()
    if message.HasField("service_level"):
        target = message.service_level
        default_level = service_level_target(
            target.answered_fraction, target.within_seconds, "queue.service_level"
        )
    levels: dict[Channel, ServiceLevelTarget] = {}
    for i, item in enumerate(message.channel_service_levels):
        field_name = f"queue.channel_service_levels[{i}]"
        channel = channel_of_kind(item.channel, f"{field_name}.channel")
        if channel in levels:
            raise AcdInputError(f"{field_name}.channel", f"{channel.value} is given twice")
        target = item.target
        levels[channel] = service_level_target(
            target.answered_fraction, target.within_seconds, f"{field_name}.target"
        )
    return QueueSpec(
        tenant,
        message.name,
        brand=message.brand,
        region=region,
        required_skills=frozenset(message.required_skills),
        strategy=_STRATEGIES[message.strategy],
        aging_per_minute=message.aging_per_minute,
        rings=rings,
        preferred_agent_timeout_seconds=message.preferred_agent_timeout_seconds or 30.0,
        shared_brands=frozenset(message.shared_brands),
        hours=queue_hours(message.hours) if message.HasField("hours") else None,
        service_level=levels,
        default_service_level=default_level,
        language=language_rule(
            message.language, [(step.after_seconds, step.mode) for step in message.language_widening]
        ),
        brand_sharing=parse_queue_setting(message.brand_sharing),
    )


def queue_hours(message: routing_pb2.QueueHours) -> BusinessHours:
    weekly: dict[str, list[str]] = {}
    for item in message.weekly:
        weekly.setdefault(item.day, []).extend(item.windows)
    return BusinessHours.parse(
        message.time_zone or "UTC",
        weekly,
        holiday_country=message.holiday_country,
        holiday_subdivision=message.holiday_subdivision,
        overrides={item.day: list(item.windows) for item in message.overrides},
        closed_action=message.closed_action or "message",
        closed_target_queue=message.closed_target_queue,
        closed_target_region=message.closed_target_region,
        closed_message=message.closed_message,
    )


def agent_profile(message: routing_pb2.AgentDefinition) -> AgentProfile:
    """An agent's definition as its profile: the channels it names (none: `DEFAULT_CAPACITY`)."""
    capacity: dict[Channel, int] = {} if message.capacity else dict(DEFAULT_CAPACITY)
    for i, item in enumerate(message.capacity):
        channel = channel_of_kind(item.channel, f"agent.capacity[{i}].channel")
        if channel in capacity:
            raise AcdInputError(f"agent.capacity[{i}].channel", f"{channel.value} is given twice")
        capacity[channel] = item.capacity
    groups = tuple(
        CapacityGroup(
            group.name,
            frozenset(
                channel_of_kind(kind, f"agent.capacity_groups[{i}].channels[{j}]")
                for j, kind in enumerate(group.channels)
            ),
            group.capacity,
        )
        for i, group in enumerate(message.capacity_groups)
    )
    return AgentProfile(
        message.agent_id,
        skills=dict(message.skills),
        languages=frozenset(message.languages),
        brands=frozenset(message.brands),
        home_region=message.home_region,
        capacity=capacity,
        voice_blocks_other_work=not message.voice_allows_other_work,
        groups=groups,
    )


def _finite_or_unbounded(seconds: float) -> float:
    """A wait as the messages carry it: -1 for an unbounded one."""
    return seconds if math.isfinite(seconds) else -1.0


def _prediction_fields(prediction: QueuePrediction) -> dict[str, Any]:
    """GetQueueStatsResponse's prediction fields (infinite waits as -1, as the message says)."""
    abandonment_aware = prediction.erlang_a
    wait = abandonment_aware.average_wait_seconds
    return {
        "arrivals_per_hour": prediction.arrivals_per_hour,
        "arrival_window_seconds": ARRIVAL_WINDOW_SECONDS,
        "average_handle_seconds": prediction.handle.seconds,
        "handle_time_samples": prediction.handle.samples,
        "abandoned_in_window": prediction.abandoned,
        "average_patience_seconds": prediction.patience_seconds,
        "abandonment_aware_service_level": abandonment_aware.service_level,
        "predicted_abandon_rate": abandonment_aware.probability_of_abandoning,
        "abandonment_aware_average_wait_seconds": wait if math.isfinite(wait) else -1.0,
        "overloaded": prediction.overloaded,
    }


class AcdRpc:
    """Mixed into RoutingServicer: the ACD methods of RoutingService."""

    _access: AccessControl
    _acd: AcdService | None
    _region: str

    def _service(self) -> AcdService:
        assert self._acd is not None, "the ACD is not wired"
        return self._acd

    async def _acd_fail(self, context: Any, error: Exception) -> NoReturn:
        if isinstance(error, AcdInputError):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
        if isinstance(error, UnknownKey):
            await context.abort(grpc.StatusCode.NOT_FOUND, str(error))
        if isinstance(error, ReservationError):
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(error))
        if isinstance(error, KVError):
            await context.abort(grpc.StatusCode.ABORTED, str(error))
        raise error

    async def _require_agent(
        self, context: Any, tenant_id: str, agent_id: str, roles: frozenset[str]
    ) -> Caller:
        caller = await self._access.require(context, tenant_id, roles)
        if caller.role == "agent" and caller.subject != agent_id:
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, "agents may act only on themselves")
        return caller

    async def _require_queue_brand(self, context: Any, caller: Caller, tenant_id: str, name: str) -> None:
        """PERMISSION_DENIED when a queue-scoped caller names a queue outside its queues, or a
        brand-scoped caller another brand's queue."""
        await self._access.require_queue(context, caller, name)
        queue = self._service().mirror.queues.get((tenant_id, name))
        if queue is not None and not caller.may_see_queue(queue.brand, queue.shared_brands, name=name):
            await self._access.deny(
                context,
                caller,
                f"caller is limited to brand(s) {sorted(caller.brands)} and may not read queue "
                f"{name!r} of brand {queue.brand!r}",
            )

    async def ConfigureQueue(
        self, request: routing_pb2.ConfigureQueueRequest, context: Any
    ) -> routing_pb2.ConfigureQueueResponse:
        await self._access.require(context, request.tenant_id, QUEUE_ADMIN_ROLES)
        try:
            await self._service().configure_queue(queue_spec(request.tenant_id, request.queue, self._region))
        except Exception as error:
            await self._acd_fail(context, error)
        return routing_pb2.ConfigureQueueResponse()

    async def UpsertAgent(
        self, request: routing_pb2.UpsertAgentRequest, context: Any
    ) -> routing_pb2.UpsertAgentResponse:
        await self._access.require(context, request.tenant_id, AGENT_ADMIN_ROLES)
        try:
            ledger = await self._service().upsert_agent(request.tenant_id, agent_profile(request.agent))
        except Exception as error:
            await self._acd_fail(context, error)
        return routing_pb2.UpsertAgentResponse(state=_STATE_NUMBERS[ledger.state], accepted=_accepted(ledger))

    async def SetAgentState(
        self, request: routing_pb2.SetAgentStateRequest, context: Any
    ) -> routing_pb2.SetAgentStateResponse:
        await self._require_agent(context, request.tenant_id, request.agent_id, AGENT_ROLES)
        try:
            if request.state not in _STATES:
                raise AcdInputError("state", f"unknown or unspecified agent state {request.state}")
            before = len(await self._service().held_offers(request.tenant_id, request.agent_id))
            ledger = await self._service().set_agent_state(
                request.tenant_id, request.agent_id, _STATES[request.state]
            )
        except Exception as error:
            await self._acd_fail(context, error)
        after = sum(1 for h in ledger.held if h.state.value == "offered")
        return routing_pb2.SetAgentStateResponse(
            state=_STATE_NUMBERS[ledger.state], requeued=max(0, before - after)
        )

    async def AgentHeartbeat(
        self, request: routing_pb2.AgentHeartbeatRequest, context: Any
    ) -> routing_pb2.AgentHeartbeatResponse:
        await self._require_agent(context, request.tenant_id, request.agent_id, AGENT_ROLES)
        try:
            ledger = await self._service().heartbeat(request.tenant_id, request.agent_id)
        except Exception as error:
            await self._acd_fail(context, error)
        return routing_pb2.AgentHeartbeatResponse(
            state=_STATE_NUMBERS[ledger.state], accepted=_accepted(ledger)
        )

    async def EnqueueContact(
        self, request: routing_pb2.EnqueueContactRequest, context: Any
    ) -> routing_pb2.EnqueueContactResponse:
        await self._access.require(context, request.tenant_id, ENQUEUE_ROLES)
        try:
            contact = WaitingContact(
                request.contact_id,
                request.queue,
                channel_of_kind(request.channel, "channel"),
                request.priority or 50,
                self._service().now(),
                required_skills=frozenset(request.required_skills),
                language=request.language,
                preferred_agent=request.preferred_agent,
                home_region=request.home_region,
            )
            record = await self._service().enqueue(request.tenant_id, contact)
        except Exception as error:
            await self._acd_fail(context, error)
        if record.closed_action:
            # The queue was closed: the customer was told, and waits for a call back or left.
            return routing_pb2.EnqueueContactResponse(
                status=f"closed_{record.closed_action}", queue=record.contact.queue
            )
        return routing_pb2.EnqueueContactResponse(status=record.status.value, queue=record.contact.queue)

    async def AnswerOffer(
        self, request: routing_pb2.AnswerOfferRequest, context: Any
    ) -> routing_pb2.AnswerOfferResponse:
        await self._require_agent(context, request.tenant_id, request.agent_id, AGENT_ROLES)
        service = self._service()
        # Accept and complete are idempotent for a caller naming the contact: a retry after a
        # lost reply gets the same answer.
        answers = {
            routing_pb2.OFFER_ANSWER_ACCEPT: service.accept,
            routing_pb2.OFFER_ANSWER_COMPLETE: service.complete,
        }
        try:
            declined = request.answer == routing_pb2.OFFER_ANSWER_DECLINE
            if not declined and request.answer not in answers:
                raise AcdInputError("answer", f"unknown or unspecified answer {request.answer}")
            if not request.reservation_id:
                raise AcdInputError("reservation_id", "is required")
            tenant, agent_id, reservation_id = request.tenant_id, request.agent_id, request.reservation_id
            if declined:
                record = await service.decline(tenant, agent_id, reservation_id)
            else:
                record = await answers[request.answer](tenant, agent_id, reservation_id, request.contact_id)
        except Exception as error:
            await self._acd_fail(context, error)
        return routing_pb2.AnswerOfferResponse(
            contact_id=record.contact.contact_id, status=record.status.value
        )

    async def TransferContact(
        self, request: routing_pb2.TransferContactRequest, context: Any
    ) -> routing_pb2.TransferContactResponse:
        await self._require_agent(context, request.tenant_id, request.agent_id, TRANSFER_ROLES)
        try:
            for name in ("contact_id", "agent_id", "queue"):
                if not getattr(request, name):
                    raise AcdInputError(name, "is required")
            if request.priority > 99:
                raise AcdInputError("priority", f"must be 1-99 (0 keeps it), got {request.priority}")
            record, from_queue = await self._service().transfer(
                Transfer(
                    request.tenant_id,
                    request.contact_id,
                    request.agent_id,
                    request.queue,
                    request.reason,
                    required_skills=frozenset(request.required_skills) or None,
                    language=request.language or None,
                    priority=request.priority or None,
                )
            )
        except Exception as error:
            await self._acd_fail(context, error)
        return routing_pb2.TransferContactResponse(
            status=record.status.value, from_queue=from_queue, queue=record.contact.queue
        )

    async def ExplainDecision(
        self, request: routing_pb2.ExplainDecisionRequest, context: Any
    ) -> routing_pb2.ExplainDecisionResponse:
        caller = await self._access.require(context, request.tenant_id, EXPLAIN_ROLES)
        try:
            record = await self._service().explain(request.tenant_id, request.contact_id)
            if record is None:
                raise UnknownKey(f"no routing decision for contact {request.contact_id!r}")
        except Exception as error:
            await self._acd_fail(context, error)
        await self._require_queue_brand(context, caller, request.tenant_id, str(record["queue"]))
        return routing_pb2.ExplainDecisionResponse(
            contact_id=record["contact_id"],
            queue=record["queue"],
            agent_id=record["agent_id"],
            rule=record["rule"],
            ring=record["ring"],
            candidates=[routing_pb2.DecisionCandidate(**c) for c in record["candidates"]],
            # Absent in decisions stored before language rules.
            language_rule=record.get("language_rule", ""),
            language_ring=record.get("language_ring", 0),
        )

    async def GetQueueStats(
        self, request: routing_pb2.GetQueueStatsRequest, context: Any
    ) -> routing_pb2.GetQueueStatsResponse:
        caller = await self._access.require(context, request.tenant_id, EXPLAIN_ROLES)
        await self._require_queue_brand(context, caller, request.tenant_id, request.queue)
        try:
            channel = None
            if request.channel != common_pb2.CHANNEL_KIND_UNSPECIFIED:
                channel = channel_of_kind(request.channel, "channel")
            if request.window_seconds < 0:
                raise AcdInputError("window_seconds", f"must be >= 0, got {request.window_seconds}")
            if request.target_answer_seconds < 0:
                raise AcdInputError(
                    "target_answer_seconds", f"must be >= 0, got {request.target_answer_seconds}"
                )
            stats = await self._service().queue_stats(
                request.tenant_id,
                request.queue,
                request.target_answer_seconds or None,
                channel=channel,
                window_seconds=request.window_seconds or 3600.0,
            )
        except Exception as error:
            await self._acd_fail(context, error)
        # An unstaffed queue with arrivals has an unbounded wait; the message carries -1 for it.
        wait = stats.predicted_average_wait_seconds
        measured = stats.measured.level
        return routing_pb2.GetQueueStatsResponse(
            depth=stats.depth,
            longest_wait_seconds=stats.longest_wait_seconds,
            staffed_agents=stats.staffed_agents,
            arrivals_last_hour=stats.arrivals_last_hour,
            predicted_service_level=stats.predicted_service_level,
            predicted_average_wait_seconds=wait if math.isfinite(wait) else -1.0,
            target=routing_pb2.ServiceLevelTarget(
                answered_fraction=stats.target.answered_fraction, within_seconds=stats.target.within_seconds
            ),
            measured_service_level=-1.0 if measured is None else measured,
            measured_contacts=stats.measured.counted,
            answered_within_target=stats.measured.answered_in_time,
            meets_target=measured is not None and measured >= stats.target.answered_fraction,
            **_prediction_fields(stats.prediction),
            estimated_wait_next_arrival_seconds=_finite_or_unbounded(stats.next_arrival_wait_seconds),
            next_arrival_service_level=stats.next_arrival_service_level,
            agents_for_target=stats.staffing.agents,
            additional_agents_needed=stats.additional_agents_needed,
            staffing_reachable=stats.staffing.reachable,
        )

    async def GetQueueDepths(
        self, request: routing_pb2.GetQueueDepthsRequest, context: Any
    ) -> routing_pb2.GetQueueDepthsResponse:
        """Every queue's depth and the wait a new arrival can expect (the gateway's back-pressure)."""
        caller = await self._access.require(context, request.tenant_id, EXPLAIN_ROLES)
        acd = self._service()
        queues = acd.mirror.queues

        def seen(name: str) -> bool:
            queue = queues.get((request.tenant_id, name))
            if queue is None:
                return caller.may_see_queue(name=name)
            return caller.may_see_queue(queue.brand, queue.shared_brands, name=name)

        visible = [d for d in acd.stats.queue_depths(request.tenant_id) if seen(d.queue)]
        return routing_pb2.GetQueueDepthsResponse(
            queues=[
                routing_pb2.QueueDepth(
                    queue=d.queue,
                    waiting=d.waiting,
                    longest_wait_seconds=d.longest_wait_seconds,
                    estimated_wait_seconds=_finite_or_unbounded(d.estimated_wait_seconds),
                )
                for d in visible
            ],
            waiting=sum(d.waiting for d in visible),
        )

    async def ListQueues(
        self, request: routing_pb2.ListQueuesRequest, context: Any
    ) -> routing_pb2.ListQueuesResponse:
        """The tenant's queues (from the live mirror) and its agents counted by state."""
        caller = await self._access.require(context, request.tenant_id, EXPLAIN_ROLES)
        try:
            # Asked for on behalf of a brand-scoped person (the gateway's board): their brands.
            caller = caller.limited_to(request.brands)
        except AuthError as error:
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, str(error))
        mirror = self._service().mirror
        strategies = {name: number for number, name in _STRATEGIES.items() if number}
        # A brand-scoped caller sees its brands' queues and the agents that serve them.
        queues = sorted(
            (
                q
                for (t, _), q in list(mirror.queues.items())
                if t == request.tenant_id and caller.may_see_queue(q.brand, q.shared_brands, name=q.name)
            ),
            key=lambda q: q.name,
        )
        by_state: dict[str, int] = {state.value: 0 for state in AgentState}
        on_board: list[routing_pb2.AgentOnBoard] = []
        for (tenant, _), ledger in list(mirror.agents.items()):
            if tenant == request.tenant_id and caller.may_see_agent(ledger.profile.brands):
                by_state[ledger.state.value] += 1
                accepted = sum(1 for held in ledger.held if held.state is ReservationState.ACCEPTED)
                on_board.append(
                    routing_pb2.AgentOnBoard(
                        agent_id=ledger.profile.agent_id,
                        state=ledger.state.value,
                        contacts=accepted,
                        offers=len(ledger.held) - accepted,
                        brands=sorted(ledger.profile.brands),
                    )
                )
        return routing_pb2.ListQueuesResponse(
            queues=[
                routing_pb2.QueueDefinition(
                    name=q.name,
                    brand=q.brand,
                    required_skills=sorted(q.required_skills),
                    strategy=strategies.get(q.strategy, 0),  # type: ignore[arg-type]
                    service_level=routing_pb2.ServiceLevelTarget(
                        answered_fraction=q.default_service_level.answered_fraction,
                        within_seconds=q.default_service_level.within_seconds,
                    ),
                    shared_brands=sorted(q.shared_brands),
                    language=q.language.steps[0].mode.value,
                    language_widening=[
                        routing_pb2.LanguageStep(after_seconds=step.after_seconds, mode=step.mode.value)
                        for step in q.language.steps[1:]
                    ],
                    brand_sharing=q.brand_sharing,
                )
                for q in queues
            ],
            agents_by_state=by_state,
            agents=sorted(on_board, key=lambda agent: agent.agent_id),
        )


def _accepted(ledger: AgentLedger) -> list[routing_pb2.AcceptedReservation]:
    """What the agent holds accepted: a reconnecting workspace lists these, even one whose
    accept the gateway had no time to record."""
    return [
        routing_pb2.AcceptedReservation(contact_id=held.contact_id, reservation_id=held.reservation_id)
        for held in ledger.held
        if held.state is ReservationState.ACCEPTED
    ]
