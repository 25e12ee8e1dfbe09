"""ReanalyseContacts: check the caller, run one slice of the batch job, encode its progress."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc

from ai.adapters.tenant_store import StoreError
from ai.domain.batch import BatchError, JobRunningElsewhereError, batch_job, slice_size
from ai.service_layer.batch import ContactReanalysis
from ai.service_layer.batch_ports import BatchContacts
from ccmesh.access import AccessControl
from ccmesh.auth import bearer_token
from ccmesh.rpc_context import abort
from ccmesh.status import RpcError
from contactcenter.ai.v1 import ai_pb2

#: Who may re-analyse a period's contacts (the same roles that may export them).
BATCH_ROLES = frozenset({"admin", "supervisor"})
#: Share of the call's time left in which a slice starts contacts; the rest lets the last ones
#: finish and the reply travel back before the deadline.
BUDGET_SHARE = 0.6


class BatchEndpoint:
    def __init__(
        self,
        access: AccessControl,
        reanalysis: ContactReanalysis,
        contacts_for: Callable[[str], BatchContacts],
    ) -> None:
        self._access = access
        self._reanalysis = reanalysis
        # The period's contacts are listed with the caller's own token: what it may not export,
        # it may not re-analyse either.
        self._contacts_for = contacts_for

    async def reanalyse(
        self, request: ai_pb2.ReanalyseContactsRequest, context: Any
    ) -> ai_pb2.ReanalyseContactsResponse:
        await self._access.require(context, request.tenant_id, BATCH_ROLES)
        token = bearer_token(context.invocation_metadata() or ()) or ""
        try:
            job = batch_job(
                request.tenant_id,
                request.job_id,
                request.start,
                request.end,
                request.time_zone,
                list(request.steps),
            )
            remaining = getattr(context, "time_remaining", lambda: None)()
            progress = await self._reanalysis.run(
                job,
                slice_size(request.max_contacts),
                self._contacts_for(token),
                None if remaining is None else remaining * BUDGET_SHARE,
            )
        except (BatchError, StoreError) as error:
            await abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(error))
        except JobRunningElsewhereError as error:
            await abort(context, grpc.StatusCode.ABORTED, str(error))
        except RpcError as error:
            await abort(context, error.code, f"listing the period's contacts failed: {error.message}")
        return ai_pb2.ReanalyseContactsResponse(
            job_id=progress.job_id,
            processed=progress.processed,
            total=progress.total,
            processed_now=progress.processed_now,
            done=progress.done,
            without_messages=progress.without_messages,
            refused_by_policy=progress.refused,
        )
