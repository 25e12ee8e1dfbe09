"""A batch job's contacts and their messages: the period's finished contacts from the region's
analytics store (integration's ExportContacts, called with the job's caller's own token, so the
batch lists only what its caller may export), their messages from the region's event stream."""

from __future__ import annotations

import grpc
from nats.js.client import JetStreamContext

from ai.domain.batch import BatchError, Turn
from ai.domain.summary import reply_speaker
from ccmesh.consent_check import ConsentCheck
from ccmesh.contact_history import contact_history
from ccmesh.rpc_client import MeshChannel, mesh_stub
from ccmesh.status import RpcError
from ccpolicy import Action
from contactcenter.integration.v1 import integration_pb2, integration_pb2_grpc

#: ExportContacts' parameter names that are the batch's own.
_PERIOD_FIELDS = ("start", "end", "time_zone", "page_token")


class ExportedContacts:
    def __init__(self, channel: MeshChannel, token: str) -> None:
        self._stub = mesh_stub(integration_pb2_grpc.IntegrationServiceStub, channel.with_token(token))

    async def page(
        self, tenant_id: str, start: str, end: str, time_zone: str, page_token: str, page_size: int
    ) -> tuple[list[str], str]:
        request = integration_pb2.ExportContactsRequest(
            tenant_id=tenant_id,
            start=start,
            end=end,
            time_zone=time_zone,
            page_size=page_size,
            page_token=page_token,
        )
        try:
            reply = await self._stub.ExportContacts(request)
        except RpcError as error:
            if error.code == grpc.StatusCode.INVALID_ARGUMENT:
                named, _, problem = error.message.partition(": ")
                if named not in _PERIOD_FIELDS:
                    named, problem = "period", error.message
                raise BatchError(named, problem) from error
            raise
        return [c.contact_id for c in reply.contacts], reply.next_page_token


class ConsentPermission:
    """The region's compliance rules on analysing a customer's messages, for the live insight
    consumer and batch jobs alike (`ConsentCheck`: consent read from identity where a rule needs it)."""

    def __init__(self, consent: ConsentCheck) -> None:
        self._consent = consent

    async def permits(self, tenant_id: str, brand_id: str, customer_id: str, contact_id: str) -> bool:
        decision = await self._consent.permits(
            Action.ANALYSE,
            tenant_id=tenant_id,
            brand_id=brand_id,
            customer_id=customer_id,
            contact_id=contact_id,
        )
        return decision.allowed


class StreamTurns:
    def __init__(self, js: JetStreamContext, region: str) -> None:
        self._js = js
        self._region = region

    async def turns(self, tenant_id: str, contact_id: str) -> list[Turn]:
        turns: list[Turn] = []
        for event in await contact_history(self._js, self._region, tenant_id, contact_id):
            kind = event.WhichOneof("payload")
            if kind == "message_received":
                received = event.message_received
                turns.append(Turn("customer", received.text, event.tenant.brand_id, received.customer_id))
            elif kind == "message_sent":
                sent = event.message_sent
                turns.append(Turn(reply_speaker(sent.sender), sent.text))
        return turns
