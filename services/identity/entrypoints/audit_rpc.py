"""IdentityService handler for the access audit log (`QueryAudit`): admins and auditors only."""

from __future__ import annotations

from typing import Any

import grpc

from ccmesh.audit_query import AuditQuery, query_audit
from ccmesh.rpc_context import abort
from contactcenter.identity.v1 import identity_pb2
from identity.entrypoints.base import HandlerBase, invalid

#: Who may read who read what: never the people whose reads are recorded (agents, supervisors).
AUDIT_LOG_ROLES = frozenset({"admin", "auditor"})
DEFAULT_LIMIT = 100


class AuditHandlers(HandlerBase):
    async def QueryAudit(
        self, request: identity_pb2.QueryAuditRequest, context: Any
    ) -> identity_pb2.QueryAuditResponse:
        await self._d.access.require(context, request.tenant_id, AUDIT_LOG_ROLES, "audit:read")
        log = self._d.access.audit
        if log is None:
            await abort(context, grpc.StatusCode.UNIMPLEMENTED, "this process keeps no audit log")
        query = AuditQuery(
            tenant_id=request.tenant_id,
            since=request.since,
            until=request.until,
            actor=request.actor,
            role=request.role,
            kind=request.kind,
            outcome=request.outcome,
            action=request.action,
            target=request.target,
            limit=request.limit or DEFAULT_LIMIT,
            after_sequence=request.after_sequence,
        )
        problems = query.problems()
        if problems:
            await invalid(context, "; ".join(problems))
        # Records queued by this very process become readable once written.
        await log.flush()
        page = await query_audit(log.js, log.region, query)
        return identity_pb2.QueryAuditResponse(
            records=[
                identity_pb2.AccessAuditRecord(
                    at=record.at,
                    region=record.region,
                    tenant_id=record.tenant_id,
                    actor=record.actor,
                    role=record.role,
                    kind=record.kind,
                    action=record.action,
                    target=record.target,
                    outcome=record.outcome,
                    reason=record.reason,
                    record_id=record.record_id,
                )
                for record in page.records
            ],
            next_sequence=page.next_sequence,
        )
