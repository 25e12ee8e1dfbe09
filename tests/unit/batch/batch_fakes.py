"""In-memory fakes of the batch re-analysis ports."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from ai.domain.batch import BatchError, BatchJob, Checkpoint, Reanalysis, Turn


class FakeContacts:
    """Contacts in a fixed order; a page token is the last id of the page before."""

    def __init__(self, ids: list[str]) -> None:
        self.ids = ids

    async def page(
        self, tenant_id: str, start: str, end: str, time_zone: str, page_token: str, page_size: int
    ) -> tuple[list[str], str]:
        if start > end:
            raise BatchError("start", f"{start} is after end {end}")
        first = self.ids.index(page_token) + 1 if page_token else 0
        page = self.ids[first : first + page_size]
        following = page[-1] if page and first + page_size < len(self.ids) else ""
        return page, following


class FakeTurns:
    def __init__(self, silent: set[str] | None = None) -> None:
        self.silent = silent or set()

    async def turns(self, tenant_id: str, contact_id: str) -> list[Turn]:
        if contact_id in self.silent:
            return []
        return [
            Turn("customer", f"where is order {contact_id}", "brand-a", f"cust-{contact_id}"),
            Turn("agent", "on its way"),
        ]


class FakeCheckpoints:
    def __init__(self) -> None:
        self.saved: dict[tuple[str, str], dict[str, object]] = {}
        self.fail_after: int | None = None

    async def load(self, tenant_id: str, job_id: str) -> Checkpoint | None:
        found = self.saved.get((tenant_id, job_id))
        return None if found is None else Checkpoint.from_json(dict(found))

    async def save(self, tenant_id: str, job_id: str, checkpoint: Checkpoint) -> None:
        if self.fail_after is not None:
            if self.fail_after == 0:
                raise ConnectionError("the bucket went away")
            self.fail_after -= 1
        # Stored as a copy, like a KV value: later changes to the object are not saved.
        self.saved[(tenant_id, job_id)] = {
            **checkpoint.to_json(),
            "done_in_page": list(checkpoint.done_in_page),
        }


class FakeSink:
    """The stream: keeps every publish, and the events once each by event id (dedup)."""

    def __init__(self) -> None:
        self.published: list[Reanalysis] = []
        self.kept: dict[str, Reanalysis] = {}
        self.block_after: int | None = None
        self.blocked = asyncio.Event()

    async def publish(self, results: Sequence[Reanalysis]) -> None:
        if self.block_after is not None and len(self.published) >= self.block_after:
            self.blocked.set()
            await asyncio.Event().wait()  # hangs until the job is killed
        for result in results:
            self.published.append(result)
            self.kept.setdefault(result.event_id, result)


async def fake_analyse(job: BatchJob, contact_id: str, turns: list[Turn]) -> Reanalysis:
    await asyncio.sleep(0)
    return Reanalysis(
        job.tenant_id, "brand-a", contact_id, job.job_id, job.steps, len(turns), intent="order_status"
    )


class FakePermission:
    """Compliance rules that refuse analysis of some customers' messages (no consent)."""

    def __init__(self, refused_customers: set[str]) -> None:
        self.refused = refused_customers
        self.asked: list[tuple[str, str, str, str]] = []

    async def permits(self, tenant_id: str, brand_id: str, customer_id: str, contact_id: str) -> bool:
        self.asked.append((tenant_id, brand_id, customer_id, contact_id))
        return customer_id not in self.refused
