"""What a batch re-analysis job needs from the world, as protocols (fakes in unit tests)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ai.domain.batch import Checkpoint, Reanalysis, Turn


class BatchContacts(Protocol):
    """The period's finished contacts in the analytics store's order (arrival, contact id)."""

    async def page(
        self, tenant_id: str, start: str, end: str, time_zone: str, page_token: str, page_size: int
    ) -> tuple[list[str], str]:
        """Contact ids of one page and the token of the next ("" after the last page). Raises
        BatchError naming a wrong period parameter."""
        ...


class ContactTurns(Protocol):
    async def turns(self, tenant_id: str, contact_id: str) -> list[Turn]:
        """The contact's customer and agent messages, oldest first ([] when none is left)."""
        ...


class AnalysisPermission(Protocol):
    async def permits(self, tenant_id: str, brand_id: str, customer_id: str, contact_id: str) -> bool:
        """Whether the region's compliance rules let the contact's messages be analysed (a
        refusal is published as the live path publishes it)."""
        ...


class BatchCheckpoints(Protocol):
    async def load(self, tenant_id: str, job_id: str) -> Checkpoint | None: ...

    async def save(self, tenant_id: str, job_id: str, checkpoint: Checkpoint) -> None: ...


class ReanalysisSink(Protocol):
    async def publish(self, results: Sequence[Reanalysis]) -> None:
        """Publish the results as events (each under its stable event id)."""
        ...
