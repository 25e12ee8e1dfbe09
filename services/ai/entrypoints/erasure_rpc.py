"""ForgetRecentTexts: identity's erasure asks every process of the service to drop the texts and
words it remembers (`ai.adapters.recent_texts`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from ai.adapters.recent_texts import forget_recent_texts
from ccmesh.access import AccessControl
from contactcenter.ai.v1 import ai_pb2

#: Erasure is identity's to order (ForgetCustomer, with its own checks): the service role only.
ERASE_ROLES: frozenset[str] = frozenset()


class EveryProcess(Protocol):
    """Runs a function in the service process and each inference worker (the inference pools)."""

    async def run_everywhere(self, function: Callable[[], int]) -> int: ...


class RecentTextsEndpoint:
    def __init__(
        self,
        access: AccessControl,
        processes: EveryProcess,
        region: str,
        here: Sequence[Callable[[], int]] = (),
    ) -> None:
        self._access = access
        self._processes = processes
        self._store = f"ai-caches-{region}"
        #: What else this process remembers of recent texts (the analyser's recent findings).
        self._here = tuple(here)

    async def forget(
        self, request: ai_pb2.ForgetRecentTextsRequest, context: Any
    ) -> ai_pb2.ForgetRecentTextsResponse:
        await self._access.require(context, request.tenant_id, ERASE_ROLES)
        dropped = sum(forget() for forget in self._here)
        dropped += await self._processes.run_everywhere(forget_recent_texts)
        return ai_pb2.ForgetRecentTextsResponse(removed={self._store: dropped} if dropped else {})
