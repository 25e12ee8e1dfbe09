"""IntegrationService: decode, check access, call one use case, encode."""

from __future__ import annotations

from typing import Any

import grpc

from ccmesh.access import AccessControl
from ccmesh.envelope import event_type
from ccmesh.kv import KVError
from ccmesh.policy_violations import PolicyCheck
from contactcenter.integration.v1 import integration_pb2, integration_pb2_grpc
from integration.adapters.dead_letters import DeadLetterRecord
from integration.adapters.delivery_log import DeliveryLog
from integration.domain.subscriptions import SubscriptionError
from integration.entrypoints.analytics_journey_report import get_journey_report
from integration.entrypoints.report import export_contacts, get_report
from integration.service_layer.actions import ActionError, Actions, IdempotencyConflict
from integration.service_layer.analytics_journey_paths import JourneyReports
from integration.service_layer.analytics_reports import Reports
from integration.service_layer.connector_calls import (
    CallRefused,
    ConnectorCalls,
    ConnectorFailed,
    ConnectorTimedOut,
    UnknownIntegration,
)
from integration.service_layer.dead_letters import DeadLetters
from integration.service_layer.erasure import CustomerErasure
from integration.service_layer.subscriptions import Subscriptions, contract_of

READ_ROLES = frozenset({"admin", "supervisor", "integration"})
MANAGE_ROLES = frozenset({"admin", "integration"})
ACTION_ROLES = frozenset({"integration"})
#: Routing (the service role, always admitted) calls connectors for journeys; an admin may try one.
# Not the integration role: a business system must not read another system's answers.
INVOKE_ROLES = frozenset({"admin"})
#: Erasure is identity's to order (ForgetCustomer, with its own checks): the service role only.
ERASE_ROLES: frozenset[str] = frozenset()


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
        policy: PolicyCheck | None = None,
        erasure: CustomerErasure | None = None,
        journey_reports: JourneyReports | None = None,
    ) -> None:
        self._journey_reports = journey_reports
        self._erasure = erasure
        #: The region's compliance rules where they apply here (exports).
        self._policy = policy
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

    async def GetJourneyReport(
        self, request: integration_pb2.GetJourneyReportRequest, context: Any
    ) -> integration_pb2.GetJourneyReportResponse:
        return await get_journey_report(self._access, self._journey_reports, request, context)

    async def ExportContacts(
        self, request: integration_pb2.ExportContactsRequest, context: Any
    ) -> integration_pb2.ExportContactsResponse:
        return await export_contacts(self._access, self._reports, request, context, self._policy)

    async def EraseCustomerData(
        self, request: integration_pb2.EraseCustomerDataRequest, context: Any
    ) -> integration_pb2.EraseCustomerDataResponse:
        await self._access.require(context, request.tenant_id, ERASE_ROLES)
        if not request.customer_ids:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "customer_ids: at least one is required")
        for field, values in (("customer_ids", request.customer_ids), ("contact_ids", request.contact_ids)):
            bad = [value for value in values if not _single_token(value)]
            if bad:
                await context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT, f"{field}: {bad[0]!r} is not a single token"
                )
        if self._erasure is None:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, "erasure is not wired in this instance")
            raise AssertionError("abort returned")  # pragma: no cover
        removed = await self._erasure.erase(request.tenant_id, request.customer_ids, request.contact_ids)
        return integration_pb2.EraseCustomerDataResponse(removed=removed)

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
        if caller.queues:
            # A queue-scoped caller reads the contacts that passed through one of its queues.
            queues = queues_of(events)
            if not any(caller.may_see_queue(name=queue) for queue in queues):
                await self._access.deny(
                    context,
                    caller,
                    f"caller is limited to queue(s) {sorted(caller.queues)}; contact "
                    f"{request.contact_id!r} was in queue(s) {sorted(queues) or 'none'}",
                )
        if caller.event_types:
            # A caller limited to some event types reads those of the contact's events only.
            events = [event for event in events if caller.may_receive(event_type(event))]
        return integration_pb2.ListContactEventsResponse(events=events)

    async def ApplySubscription(
        self, request: integration_pb2.ApplySubscriptionRequest, context: Any
    ) -> integration_pb2.ApplySubscriptionResponse:
        caller = await self._access.require(context, request.subscription.tenant_id, MANAGE_ROLES)
        asked = list(request.subscription.event_types)
        if caller.event_types and (not asked or not all(caller.may_receive(t) for t in asked)):
            # No types means every type: more than a caller limited to some types may receive.
            outside = sorted(t for t in asked if not caller.may_receive(t)) or ["every type"]
            await self._access.deny(
                context,
                caller,
                f"caller is limited to event type(s) {sorted(caller.event_types)} and may not "
                f"subscribe to {', '.join(outside)}",
            )
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


def queues_of(events: list[Any]) -> set[str]:
    """The queues a contact's events name (queued, accepted, transferred...)."""
    found = set()
    for event in events:
        payload = getattr(event, event_type(event))
        queue = getattr(payload, "queue", "")
        if isinstance(queue, str) and queue:
            found.add(queue)
    return found
