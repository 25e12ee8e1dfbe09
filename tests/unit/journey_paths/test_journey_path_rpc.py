"""GetJourneyReport at its entrypoint: checked like GetReport (agents and other tenants refused,
a caller limited to queues refused, a brand-scoped supervisor sees its brands' journeys only),
bad parameters named with INVALID_ARGUMENT."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import grpc
import pytest
from test_journey_path_store import DAY, row

from ccmesh.access import AccessControl
from ccmesh.auth import TokenAuthority
from contactcenter.integration.v1 import integration_pb2
from integration.adapters.analytics_journey_store import ParquetJourneyPathStore
from integration.entrypoints.analytics_journey_report import get_journey_report
from integration.service_layer.analytics_journey_paths import JourneyReports

AUTHORITY = TokenAuthority("a-secret-of-sixteen-or-more")


class Aborted(Exception):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(f"{code.name}: {details}")
        self.code = code


class Context:
    def __init__(self, token: str) -> None:
        self._metadata = (("authorization", f"Bearer {token}"),)

    def invocation_metadata(self) -> Any:
        return self._metadata

    async def abort(self, code: grpc.StatusCode, details: str = "") -> None:
        raise Aborted(code, details)


@pytest.fixture
async def reports(tmp_path: Path) -> JourneyReports:
    store = ParquetJourneyPathStore.open(tmp_path)
    await store.add(
        [
            row("c1", ["greet", "to-support"], "handed_off", started=DAY + 3590),
            row("c2", ["greet", "done"], "completed", brand="b2"),
        ]
    )
    return JourneyReports(store)


async def ask(
    reports: JourneyReports,
    role: str = "supervisor",
    tenant: str = "acme",
    start: str = "2026-03-29",
    **scope: Any,
) -> Any:
    token = AUTHORITY.mint(tenant, role, "someone", **scope)
    request = integration_pb2.GetJourneyReportRequest(tenant_id="acme", start=start, end="2026-03-30")
    return await get_journey_report(AccessControl(AUTHORITY), reports, request, Context(token))


async def test_a_supervisor_gets_the_flows_and_a_brand_scoped_one_only_its_brands(
    reports: JourneyReports,
) -> None:
    (flow,) = (await ask(reports)).flows
    assert (flow.flow, flow.journeys, dict(flow.outcomes)) == ("triage", 2, {"handed_off": 1, "completed": 1})
    assert flow.average_duration_seconds == 10.0
    (scoped,) = (await ask(reports, brands=("b2",))).flows
    assert (scoped.journeys, [d.node for d in scoped.drop_offs]) == (1, ["done"])
    assert not scoped.HasField("average_duration_seconds")


async def test_agents_other_tenants_and_queue_limited_callers_are_refused(reports: JourneyReports) -> None:
    for caller in ({"role": "agent"}, {"tenant": "globex"}, {"queues": ("support",)}):
        with pytest.raises(Aborted) as refused:
            await ask(reports, **caller)
        assert refused.value.code == grpc.StatusCode.PERMISSION_DENIED, caller


async def test_a_bad_parameter_is_named(reports: JourneyReports) -> None:
    with pytest.raises(Aborted, match="start: not an ISO 8601") as refused:
        await ask(reports, start="yesterday")
    assert refused.value.code == grpc.StatusCode.INVALID_ARGUMENT
