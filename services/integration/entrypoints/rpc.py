"""IntegrationService: decode, check access, call one use case, encode."""

from __future__ import annotations

from typing import Any

import grpc

from ccmesh.access import AccessControl
from ccmesh.kv import KVError
from contactcenter.integration.v1 import integration_pb2, integration_pb2_grpc
from integration.adapters.dead_letters import DeadLetterRecord
from integration.adapters.delivery_log import DeliveryLog
from integration.domain.payloads import event_type
from integration.domain.subscriptions import SubscriptionError
from integration.entrypoints.report import export_contacts, get_report
from integration.service_layer.actions import ActionError, Actions, IdempotencyConflict
from integration.service_layer.analytics_reports import Reports
from integration.service_layer.connector_calls import (
    CallRefused,
    ConnectorCalls,
    ConnectorFailed,
    ConnectorTimedOut,
    UnknownIntegration,
)
from integration.service_layer.dead_letters import DeadLetters
from integration.service_layer.subscriptions import Subscriptions, contract_of

READ_ROLES = frozenset({"admin", "supervisor", "integration"})
MANAGE_ROLES = frozenset({"admin", "integration"})
ACTION_ROLES = frozenset({"integration"})
#: Routing (the service role, always admitted) calls connectors for journeys; an admin may try one.
# Not the integration role: a business system must not read another system's answers.
INVOKE_ROLES = frozenset({"admin"})


def _single_token(value: str) -> bool:
    return bool(value) and not any(c in value for c in ".*> ")


def _dead_letter(record: DeadLetterRecord) -> integration_pb2.DeadLetter:
    return integration_pb2.DeadLetter(
        subscription=record.subscription,
        event_id=record.event.event_id,
        contact_id=record.event.contact_id,
        event_type=event_type(record.event),
        attempts=record.attempts,
        reason=record.reason,
        dead_lettered_at=record.dead_lettered_at,
    )


class IntegrationServicer(integration_pb2_grpc.IntegrationServiceServicer):
    def __init__(
        self,
        access: AccessControl,
        log: DeliveryLog,
        subscriptions: Subscriptions,
        dead_letters: DeadLetters,
        actions: Actions,
        connector_calls: ConnectorCalls | None = None,
        reports: Reports | None = None,
    ) -> None:
        self._access = access
        self._log = log
        self._subscriptions = subscriptions
        self._dead_letters = dead_letters
        self._actions = actions
        self._connector_calls = connector_calls
        self._reports = reports

    async def GetReport(
        self, request: integration_pb2.GetReportRequest, context: Any
    ) -> integration_pb2.GetReportResponse:
        return await get_report(self._access, self._reports, request, context)

    async def ExportContacts(
        self, request: integration_pb2.ExportContactsRequest, context: Any
    ) -> integration_pb2.ExportContactsResponse:
        return await export_contacts(self._access, self._reports, request, context)

    async def ListContactEvents(
        self, request: integration_pb2.ListContactEventsRequest, context: Any
    ) -> integration_pb2.ListContactEventsResponse:
        caller = await self._access.require(context, request.tenant_id, READ_ROLES)
        if not _single_token(request.contact_id):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "contact_id: required, a single token")
        events = await self._log.events(request.tenant_id, request.contact_id)
        # A brand-scoped caller reads only its brands' contacts.
        for brand in sorted({event.tenant.brand_id for event in events if event.tenant.brand_id}):
            await self._access.require_brand(context, caller, brand)
        return integration_pb2.ListContactEventsResponse(events=events)

    async def ApplySubscription(
        self, request: integration_pb2.ApplySubscriptionRequest, context: Any
    ) -> integration_pb2.ApplySubscriptionResponse:
        await self._access.require(context, request.subscription.tenant_id, MANAGE_ROLES)
        try:
            result = await self._subscriptions.apply(request.subscription)
        except SubscriptionError as error:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
            raise
        except KVError as error:
            await context.abort(grpc.StatusCode.UNAVAILABLE, str(error))
            raise
        return integration_pb2.ApplySubscriptionResponse(generation=result.generation, created=result.created)

    async def ListSubscriptions(
        self, request: integration_pb2.ListSubscriptionsRequest, context: Any
    ) -> integration_pb2.ListSubscriptionsResponse:
        await self._access.require(context, request.tenant_id, READ_ROLES)
        documents = await self._subscriptions.list(request.tenant_id)
        return integration_pb2.ListSubscriptionsResponse(subscriptions=[contract_of(d) for d in documents])

    async def DeleteSubscription(
        self, request: integration_pb2.DeleteSubscriptionRequest, context: Any
    ) -> integration_pb2.DeleteSubscriptionResponse:
        await self._access.require(context, request.tenant_id, MANAGE_ROLES)
        deleted = await self._subscriptions.delete(request.tenant_id, request.name)
        return integration_pb2.DeleteSubscriptionResponse(deleted=deleted)

    async def ListDeadLetters(
        self, request: integration_pb2.ListDeadLettersRequest, context: Any
    ) -> integration_pb2.ListDeadLettersResponse:
        await self._access.require(context, request.tenant_id, MANAGE_ROLES)
        if not _single_token(request.subscription):
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "subscription: required, a subscription name"
            )
        records = await self._dead_letters.list(request.tenant_id, request.subscription)
        return integration_pb2.ListDeadLettersResponse(dead_letters=[_dead_letter(r) for r in records])

    async def ReplayDeadLetters(
        self, request: integration_pb2.ReplayDeadLettersRequest, context: Any
    ) -> integration_pb2.ReplayDeadLettersResponse:
        await self._access.require(context, request.tenant_id, MANAGE_ROLES)
        document = await self._subscriptions.get(request.tenant_id, request.subscription)
        if document is None:
            await context.abort(
                grpc.StatusCode.NOT_FOUND, f"subscription {request.subscription!r} not found for this tenant"
            )
            raise AssertionError("abort returned")  # pragma: no cover
        report = await self._dead_letters.replay(
            request.tenant_id,
            request.subscription,
            document.spec.url,
            document.spec.secret,
            set(request.event_ids),
        )
        return integration_pb2.ReplayDeadLettersResponse(
            delivered=report.delivered, failed=[_dead_letter(r) for r in report.failed]
        )

    async def _act(self, request: Any, context: Any) -> tuple[integration_pb2.ActionResult, dict[str, str]]:
        caller = await self._access.require(context, request.header.tenant_id, ACTION_ROLES)
        try:
            outcome, replayed = await self._actions.apply(request, request.header, caller.subject)
        except IdempotencyConflict as error:
            await context.abort(grpc.StatusCode.ALREADY_EXISTS, str(error))
            raise
        except ActionError as error:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
            raise
        return integration_pb2.ActionResult(action_id=outcome.action_id, replayed=replayed), outcome.result

    async def UpdateAttributes(
        self, request: integration_pb2.UpdateAttributesRequest, context: Any
    ) -> integration_pb2.UpdateAttributesResponse:
        result, _ = await self._act(request, context)
        return integration_pb2.UpdateAttributesResponse(result=result)

    async def SendFlowEvent(
        self, request: integration_pb2.SendFlowEventRequest, context: Any
    ) -> integration_pb2.SendFlowEventResponse:
        result, _ = await self._act(request, context)
        return integration_pb2.SendFlowEventResponse(result=result)

    async def CreateTask(
        self, request: integration_pb2.CreateTaskRequest, context: Any
    ) -> integration_pb2.CreateTaskResponse:
        result, data = await self._act(request, context)
        return integration_pb2.CreateTaskResponse(result=result, contact_id=data.get("contact_id", ""))

    async def CloseContact(
        self, request: integration_pb2.CloseContactRequest, context: Any
    ) -> integration_pb2.CloseContactResponse:
        result, _ = await self._act(request, context)
        return integration_pb2.CloseContactResponse(result=result)

    async def InvokeConnector(
        self, request: integration_pb2.InvokeConnectorRequest, context: Any
    ) -> integration_pb2.InvokeConnectorResponse:
        await self._access.require(context, request.tenant_id, INVOKE_ROLES, brand_id=request.brand_id)
        if not request.integration:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "integration: required, a logical name")
        if not _single_token(request.contact_id):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "contact_id: required, a single token")
        if request.timeout_seconds < 0:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "timeout_seconds: must not be negative")
        if self._connector_calls is None:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, "connectors are not served here")
            raise AssertionError("abort returned")  # pragma: no cover
        try:
            answer = await self._connector_calls.invoke(
                request.tenant_id,
                request.contact_id,
                request.integration,
                dict(request.inputs),
                request.timeout_seconds,
            )
        except UnknownIntegration as error:
            await context.abort(grpc.StatusCode.NOT_FOUND, str(error))
            raise
        except CallRefused as error:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(error))
            raise
        except ConnectorTimedOut as error:
            await context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, str(error))
            raise
        except ConnectorFailed as error:
            await context.abort(grpc.StatusCode.UNAVAILABLE, str(error))
            raise
        return integration_pb2.InvokeConnectorResponse(
            found=answer.found, fields=answer.fields, connector=answer.connector
        )
