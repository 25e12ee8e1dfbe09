"""Reports from the analytics store: parameters checked, the store's sums turned into metrics."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace

from integration.domain.analytics_agent_states import with_agent_metrics
from integration.domain.analytics_export import key_of, page_token, parse_export_query
from integration.domain.analytics_facts import ContactFact
from integration.domain.analytics_metrics import Dimension, ReportRow, report_rows
from integration.domain.analytics_query import parse_report_query
from integration.service_layer.analytics_agent_states import AgentStateReport
from integration.service_layer.analytics_ports import AnalyticsStore, QueueTargets

DEFAULT_FCR_DAYS = 7


class Reports:
    def __init__(
        self,
        store: AnalyticsStore,
        targets: QueueTargets | None = None,
        agent_states: AgentStateReport | None = None,
    ) -> None:
        self._store = store
        self._targets = targets
        self._agent_states = agent_states

    async def report(
        self,
        *,
        tenant_id: str,
        start: str,
        end: str,
        interval: str = "",
        group_by: str = "",
        time_zone: str = "",
        service_level_seconds: float = 0.0,
        fcr_days: int = 0,
        brands: Collection[str] = (),
    ) -> list[ReportRow]:
        """Raises `ReportError` naming a bad parameter. `brands` limits the report to those
        brands' contacts (a brand-scoped caller's); empty: every brand of the tenant.
        `service_level_seconds` 0: each queue's own target."""
        query = parse_report_query(
            tenant_id=tenant_id,
            start=start,
            end=end,
            interval=interval or "hour",
            group_by=group_by,
            time_zone=time_zone or "UTC",
            service_level_seconds=service_level_seconds or None,
            fcr_days=fcr_days or DEFAULT_FCR_DAYS,
            brands=frozenset(brands),
        )
        if query.service_level_seconds is None and self._targets is not None:
            # Checked first, asked after: a bad parameter is named without a call to routing.
            query = replace(query, queue_targets=await self._targets.of_tenant(tenant_id))
        rows = report_rows(query, await self._store.totals(query))
        if query.group_by is Dimension.AGENT and self._agent_states is not None:
            rows = with_agent_metrics(query, rows, await self._agent_states.totals(query))
        return rows

    async def export(
        self,
        *,
        tenant_id: str,
        start: str,
        end: str,
        time_zone: str = "",
        page_size: int = 0,
        page_token: str = "",
        brands: Collection[str] = (),
    ) -> tuple[list[ContactFact], str]:
        """A page of the period's contacts and the token of the next page ("" after the last).
        Raises `ReportError` naming a bad parameter."""
        query = parse_export_query(
            tenant_id=tenant_id,
            start=start,
            end=end,
            time_zone=time_zone,
            page_size=page_size,
            page_token=page_token,
            brands=frozenset(brands),
        )
        facts = await self._store.contacts(query)
        # A full page may have more behind it; a short one is the last.
        following = page_token_of(facts) if len(facts) == query.page_size else ""
        return facts, following


def page_token_of(facts: list[ContactFact]) -> str:
    return page_token(key_of(facts[-1])) if facts else ""
