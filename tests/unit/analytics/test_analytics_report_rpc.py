"""GetReport at its entrypoint: who may ask, what a brand-scoped supervisor sees, bad parameters
named with INVALID_ARGUMENT; and `ccctl report`'s table and CSV of the reply."""

from __future__ import annotations

import grpc
import pytest

from ccctl.commands.report import as_csv, as_table
from ccmesh.access import AccessControl
from ccmesh.auth import TokenAuthority
from ccmesh.status import RpcError
from contactcenter.common.v1 import common_pb2
from contactcenter.integration.v1 import integration_pb2
from contactcenter.routing.v1 import routing_pb2
from integration.adapters.analytics_queue_targets import queue_target
from integration.domain.analytics_facts import ContactLedger
from integration.domain.analytics_metrics import QueueTarget
from integration.entrypoints.report import get_report
from integration.service_layer.analytics_reports import Reports
from tests.analytics_day import scripted_day

from .analytics_fakes import MemoryAnalyticsStore

AUTHORITY = TokenAuthority("a-secret-of-sixteen-or-more")


class Aborted(Exception):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(f"{code.name}: {details}")
        self.code = code
        self.details = details


class Context:
    def __init__(self, token: str) -> None:
        self._metadata = (("authorization", f"Bearer {token}"),)

    def invocation_metadata(self):
        return self._metadata

    async def abort(self, code, details=""):
        raise Aborted(code, details)


@pytest.fixture
async def reports() -> Reports:
    store = MemoryAnalyticsStore()
    await store.commit(ContactLedger().apply(scripted_day()), ContactLedger())
    return Reports(store)


def request(**fields) -> integration_pb2.GetReportRequest:
    base = {"tenant_id": "acme", "start": "2026-03-29", "end": "2026-03-30", "interval": "day"}
    return integration_pb2.GetReportRequest(**{**base, **fields}, time_zone="Europe/Berlin")


async def ask(reports, role="supervisor", tenant="acme", brands=(), **fields):
    token = AUTHORITY.mint(tenant, role, "someone", brands=brands)
    return await get_report(AccessControl(AUTHORITY), reports, request(**fields), Context(token))


async def test_a_supervisor_gets_the_day_by_queue(reports):
    reply = await ask(reports, group_by="queue")
    by_queue = {row.group: row for row in reply.rows}
    assert (by_queue["billing"].offered, by_queue["sales"].abandoned) == (3, 1)
    assert by_queue["sales"].service_level == 0.5  # c6 within 20 s, c3 abandoned
    assert not by_queue[""].HasField("service_level")  # nothing offered: no ratio, not a 0
    assert (reply.time_zone, reply.interval) == ("Europe/Berlin", "day")


async def test_agents_and_other_tenants_are_refused(reports):
    with pytest.raises(Aborted) as refused:
        await ask(reports, role="agent")
    assert refused.value.code == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(Aborted) as refused:
        await ask(reports, tenant="globex")
    assert refused.value.code == grpc.StatusCode.PERMISSION_DENIED


async def test_a_brand_scoped_supervisor_sees_only_its_brand(reports):
    assert (await ask(reports, brands=("acme-outlet",))).rows == []
    (row,) = (await ask(reports, brands=("acme-retail",))).rows
    assert row.offered == 5


async def test_a_bad_parameter_is_named(reports):
    with pytest.raises(Aborted) as refused:
        await ask(reports, interval="week")
    assert refused.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert refused.value.details == "interval: unknown 'week'; one of 15m, hour, day"


async def test_without_a_store_the_rpc_says_so():
    with pytest.raises(Aborted) as refused:
        await ask(None)
    assert refused.value.code == grpc.StatusCode.UNIMPLEMENTED


async def test_ccctl_prints_the_reply_as_table_and_csv(reports):
    rows = (await ask(reports, interval="hour")).rows
    table = as_table(rows).splitlines()
    assert table[0].split() == [
        "START",
        "GROUP",
        "OFFERED",
        "ANSWERED",
        "ABANDONED",
        "SL",
        "ABANDON%",
        "ASA",
        "AHT",
        "ACW",
        "TRANSFERS",
        "FCR",
        "SENTIMENT",
    ]
    assert table[1].split()[:8] == ["2026-03-29T01:00:00+01:00", "-", "2", "2", "0", "0.5", "0", "22.5"]
    lines = as_csv(rows).splitlines()
    assert lines[0].startswith("start,end,group,offered,answered,abandoned,service_level")
    assert lines[2].startswith("2026-03-29T03:00:00+02:00,2026-03-29T04:00:00+02:00,,2,1,1,0,0.5,25,635,")


class Targets:
    """Routing's queue targets, as a fake: billing answers within 10 s, sales within 60 s."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.asked: list[str] = []

    async def of_tenant(self, tenant_id):
        self.asked.append(tenant_id)
        if self.fail:
            raise RpcError(grpc.StatusCode.UNAVAILABLE, "no responders")
        return {"billing": QueueTarget(within_seconds=10), "sales": QueueTarget(within_seconds=60)}


async def test_service_level_follows_each_queues_target_from_routing():
    store = MemoryAnalyticsStore()
    await store.commit(ContactLedger().apply(scripted_day()), ContactLedger())
    targets = Targets()
    reply = await ask(Reports(store, targets), group_by="queue")
    levels = {row.group: row.service_level for row in reply.rows if row.HasField("service_level")}
    assert levels == {"billing": 0.0, "sales": 0.5}  # 15, 30, 25 s all over 10; c6's 20 s within 60
    assert targets.asked == ["acme"]
    # A threshold named in the request is used for every queue, without asking routing.
    reply = await ask(Reports(store, targets), group_by="queue", service_level_seconds=25)
    levels = {row.group: row.service_level for row in reply.rows if row.HasField("service_level")}
    assert levels == {"billing": 2 / 3, "sales": 0.5}
    assert targets.asked == ["acme"]


async def test_without_routing_the_report_says_what_is_missing():
    with pytest.raises(Aborted) as refused:
        await ask(Reports(MemoryAnalyticsStore(), Targets(fail=True)))
    assert refused.value.code == grpc.StatusCode.UNAVAILABLE
    assert refused.value.details.startswith("the queues' service-level targets: UNAVAILABLE")


def test_routing_queue_definitions_become_targets():
    queue = routing_pb2.QueueDefinition(
        name="billing",
        service_level=routing_pb2.ServiceLevelTarget(answered_fraction=0.8, within_seconds=30),
        channel_service_levels=[
            routing_pb2.ChannelServiceLevel(
                channel=common_pb2.CHANNEL_KIND_VOICE,
                target=routing_pb2.ServiceLevelTarget(answered_fraction=0.9, within_seconds=15),
            )
        ],
    )
    target = queue_target(queue)
    assert (target.threshold("voice"), target.threshold("webchat")) == (15, 30)
    assert queue_target(routing_pb2.QueueDefinition(name="plain")).threshold("sms") == 20
