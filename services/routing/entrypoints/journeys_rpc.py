"""The journey RPCs of RoutingService: decode, check access, call the use case, encode."""

from __future__ import annotations

from typing import Any, NoReturn

import grpc
from google.protobuf import json_format, struct_pb2

from ccflow.effects import (
    AiResult,
    AwaitInput,
    CallbackAnswered,
    CallIntegration,
    Effect,
    Ended,
    Event,
    Failure,
    HandOff,
    Input,
    IntegrationReply,
    InvokeAi,
    ScheduleCallback,
    SendPrompt,
    Timeout,
    TransferFlow,
)
from ccflow.errors import FlowError
from ccflow.executor import JourneyError
from ccflow.journey import Journey
from ccflow.registry import RegistryError
from ccmesh.access import AccessControl
from contactcenter.routing.v1 import routing_pb2
from routing.adapters.flow_store import BadKey, StoreConflict
from routing.service_layer.journeys import JourneyService, NotFound

PUBLISH_ROLES = frozenset({"admin"})
READ_FLOW_ROLES = frozenset({"admin", "supervisor"})
DRIVE_ROLES = frozenset({"admin", "integration"})
READ_JOURNEY_ROLES = frozenset({"admin", "supervisor", "agent"})


def _struct(value: dict[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(value)
    return message


def _dict(message: struct_pb2.Struct) -> dict[str, Any]:
    return json_format.MessageToDict(message)


def journey_message(journey: Journey) -> routing_pb2.Journey:
    outcome = journey.outcome
    message = routing_pb2.Journey(
        journey_id=journey.journey_id,
        flow=journey.flow,
        version=journey.version,
        node=journey.node,
        status=journey.status,
        waiting_for=journey.waiting_for,
        channel=journey.channel,
        priority=journey.priority,
        attributes=_struct(journey.attributes),
        path=journey.path,
        outcome_kind=str(outcome.get("kind", "")),
        outcome=str(
            outcome.get("outcome") or outcome.get("queue") or outcome.get("flow") or outcome.get("reason", "")
        ),
        region=journey.region,
        language=journey.language,
        intent=journey.intent,
        sentiment=journey.sentiment,
        errors=[routing_pb2.JourneyStepError(node=e["node"], error=e["error"]) for e in journey.errors],
    )
    if outcome.get("kind") == "queue":
        message.hand_off.CopyFrom(
            routing_pb2.RoutingHandOff(
                queue=outcome["queue"],
                priority=int(outcome["priority"]),
                attributes=_struct(outcome["attributes"]),
            )
        )
    return message


def action_message(effect: Effect) -> routing_pb2.JourneyAction:
    if isinstance(effect, SendPrompt):
        return routing_pb2.JourneyAction(kind="send_prompt", node=effect.node, name=effect.prompt)
    if isinstance(effect, AwaitInput):
        return routing_pb2.JourneyAction(
            kind="await_input",
            node=effect.node,
            name=effect.prompt,
            mode=effect.mode,
            timeout_seconds=effect.timeout_seconds,
            attempt=effect.attempt,
        )
    if isinstance(effect, InvokeAi):
        return routing_pb2.JourneyAction(
            kind="invoke_ai", node=effect.node, name=effect.component, task=effect.task
        )
    if isinstance(effect, CallIntegration):
        return routing_pb2.JourneyAction(
            kind="call_integration",
            node=effect.node,
            name=effect.integration,
            timeout_seconds=effect.timeout_seconds,
        )
    if isinstance(effect, ScheduleCallback):
        return routing_pb2.JourneyAction(
            kind="schedule_callback", node=effect.node, name=effect.queue, channel=effect.channel
        )
    if isinstance(effect, HandOff):
        return routing_pb2.JourneyAction(kind="hand_off", node=effect.node, name=effect.queue)
    if isinstance(effect, TransferFlow):
        return routing_pb2.JourneyAction(kind="transfer_flow", node=effect.node, name=effect.flow)
    assert isinstance(effect, Ended)
    return routing_pb2.JourneyAction(kind="ended", node=effect.node, name=effect.outcome)


def event_of(request: routing_pb2.ContinueJourneyRequest) -> Event | None:
    which = request.WhichOneof("event")
    if which == "input":
        return Input(request.input)
    if which == "timeout":
        return Timeout()
    if which == "ai_result":
        return AiResult(json_format.MessageToDict(request.ai_result))
    if which == "integration_reply":
        return IntegrationReply(json_format.MessageToDict(request.integration_reply))
    if which == "failure":
        return Failure(request.failure)
    if which == "callback_channel":
        return CallbackAnswered(request.callback_channel)
    return None


class JourneyRpc:
    """Mixed into RoutingServicer: the journey methods of RoutingService."""

    _access: AccessControl
    _journeys: JourneyService

    async def _fail(self, context: Any, error: Exception) -> NoReturn:
        codes: list[tuple[type[Exception] | tuple[type[Exception], ...], grpc.StatusCode]] = [
            ((FlowError, RegistryError, BadKey), grpc.StatusCode.INVALID_ARGUMENT),
            (NotFound, grpc.StatusCode.NOT_FOUND),
            (JourneyError, grpc.StatusCode.FAILED_PRECONDITION),
            (StoreConflict, grpc.StatusCode.ABORTED),
        ]
        for kinds, code in codes:
            if isinstance(error, kinds):
                await context.abort(code, str(error))
        raise error

    async def PublishFlow(
        self, request: routing_pb2.PublishFlowRequest, context: Any
    ) -> routing_pb2.PublishFlowResponse:
        await self._access.require(context, request.tenant_id, PUBLISH_ROLES)
        files = [(f.name, f.content) for f in request.files]
        try:
            version, created, digest = await self._journeys.publish_flow(
                request.tenant_id, request.flow, files
            )
        except (FlowError, BadKey) as error:
            await self._fail(context, error)
        return routing_pb2.PublishFlowResponse(version=version, created=created, digest=digest)

    async def SetFlowAlias(
        self, request: routing_pb2.SetFlowAliasRequest, context: Any
    ) -> routing_pb2.SetFlowAliasResponse:
        await self._access.require(context, request.tenant_id, PUBLISH_ROLES)
        try:
            alias = await self._journeys.set_alias(
                request.tenant_id,
                request.flow,
                request.alias,
                request.version,
                request.canary_version,
                request.canary_percent,
            )
        except (RegistryError, NotFound, BadKey) as error:
            await self._fail(context, error)
        return routing_pb2.SetFlowAliasResponse(
            alias=routing_pb2.FlowAlias(
                alias=request.alias,
                version=alias.version,
                canary_version=alias.canary_version,
                canary_percent=alias.canary_percent,
            )
        )

    async def GetFlowVersion(
        self, request: routing_pb2.GetFlowVersionRequest, context: Any
    ) -> routing_pb2.GetFlowVersionResponse:
        await self._access.require(context, request.tenant_id, READ_FLOW_ROLES)
        try:
            stored, index = await self._journeys.get_version(
                request.tenant_id, request.flow, request.version, request.alias
            )
        except (NotFound, BadKey) as error:
            await self._fail(context, error)
        return routing_pb2.GetFlowVersionResponse(
            version=stored.version,
            digest=stored.digest,
            files=[routing_pb2.FlowSourceFile(name=name, content=text) for name, text in stored.files],
            latest=index.latest,
            aliases=[
                routing_pb2.FlowAlias(
                    alias=name,
                    version=a.version,
                    canary_version=a.canary_version,
                    canary_percent=a.canary_percent,
                )
                for name, a in sorted(index.aliases.items())
            ],
        )

    async def StartJourney(
        self, request: routing_pb2.StartJourneyRequest, context: Any
    ) -> routing_pb2.StartJourneyResponse:
        await self._access.require(context, request.tenant_id, DRIVE_ROLES)
        journey = Journey(
            journey_id=request.contact_id,
            flow=request.flow,
            channel=request.channel,
            brand=request.brand,
            language=request.language,
            customer=_dict(request.customer),
            consent=dict(request.consent),
            history=_dict(request.history),
            attributes=_dict(request.attributes),
            # The opening message is the journey's first input: what its AI steps analyse.
            input=request.text,
            text=request.text,
        )
        try:
            step = await self._journeys.start(request.tenant_id, journey, request.alias)
        except (NotFound, JourneyError, RegistryError, BadKey, StoreConflict) as error:
            await self._fail(context, error)
        return routing_pb2.StartJourneyResponse(
            journey=journey_message(step.journey), actions=[action_message(e) for e in step.effects]
        )

    async def ContinueJourney(
        self, request: routing_pb2.ContinueJourneyRequest, context: Any
    ) -> routing_pb2.ContinueJourneyResponse:
        await self._access.require(context, request.tenant_id, DRIVE_ROLES)
        event = event_of(request)
        if event is None:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                "event is required: input, timeout, ai_result, integration_reply, failure or "
                "callback_channel",
            )
            raise AssertionError("abort returned")  # pragma: no cover
        try:
            step = await self._journeys.resume(request.tenant_id, request.journey_id, event)
        except (NotFound, JourneyError, BadKey, StoreConflict) as error:
            await self._fail(context, error)
        return routing_pb2.ContinueJourneyResponse(
            journey=journey_message(step.journey), actions=[action_message(e) for e in step.effects]
        )

    async def GetJourney(
        self, request: routing_pb2.GetJourneyRequest, context: Any
    ) -> routing_pb2.GetJourneyResponse:
        await self._access.require(context, request.tenant_id, READ_JOURNEY_ROLES)
        try:
            journey = await self._journeys.get(request.tenant_id, request.journey_id)
        except (NotFound, BadKey) as error:
            await self._fail(context, error)
        return routing_pb2.GetJourneyResponse(journey=journey_message(journey))

    async def ApplyFlowPolicy(
        self, request: routing_pb2.ApplyFlowPolicyRequest, context: Any
    ) -> routing_pb2.ApplyFlowPolicyResponse:
        await self._access.require(context, request.tenant_id, PUBLISH_ROLES)
        try:
            name, active = await self._journeys.apply_policy(
                request.tenant_id, request.file.name or "policy.yaml", request.file.content
            )
        except (FlowError, BadKey) as error:
            await self._fail(context, error)
        return routing_pb2.ApplyFlowPolicyResponse(name=name, active=active)

    async def RemoveFlowPolicy(
        self, request: routing_pb2.RemoveFlowPolicyRequest, context: Any
    ) -> routing_pb2.RemoveFlowPolicyResponse:
        await self._access.require(context, request.tenant_id, PUBLISH_ROLES)
        try:
            removed, active = await self._journeys.remove_policy(request.tenant_id, request.name)
        except BadKey as error:
            await self._fail(context, error)
        return routing_pb2.RemoveFlowPolicyResponse(removed=removed, active=active)
