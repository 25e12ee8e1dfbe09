"""The reports page's query: parameters checked into GetReport (a bad one named), the reply as
JSON rows where an unmeasured ratio is absent rather than 0."""

from __future__ import annotations

from typing import Any

import pytest

from contactcenter.integration.v1 import integration_pb2
from gateway.service_layer.analytics_report_view import BadReportParameter, read_report, report_request


def test_the_query_becomes_the_request():
    request = report_request(
        "acme",
        {
            "start": "2026-03-29",
            "end": " 2026-03-30 ",
            "interval": "15m",
            "by": "queue",
            "timeZone": "Europe/Berlin",
            "serviceLevelSeconds": "20.5",
            "fcrDays": "3",
        },
    )
    assert request == integration_pb2.GetReportRequest(
        tenant_id="acme",
        start="2026-03-29",
        end="2026-03-30",
        interval="15m",
        group_by="queue",
        time_zone="Europe/Berlin",
        service_level_seconds=20.5,
        fcr_days=3,
    )


def test_empty_numbers_keep_the_services_defaults():
    request = report_request("acme", {"start": "2026-03-29", "serviceLevelSeconds": "", "fcrDays": ""})
    assert request.service_level_seconds == 0 and request.fcr_days == 0
    assert request.interval == "" and request.group_by == ""


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"from": "2026-03-29"}, "unknown parameter(s) from; accepted: start, end, interval, by,"),
        ({"serviceLevelSeconds": "soon"}, "serviceLevelSeconds: not a number: 'soon'"),
        ({"serviceLevelSeconds": "nan"}, "serviceLevelSeconds: must not be negative, got 'nan'"),
        ({"serviceLevelSeconds": "-5"}, "serviceLevelSeconds: must not be negative"),
        ({"fcrDays": "2.5"}, "fcrDays: not a whole number: '2.5'"),
        ({"fcrDays": "-1"}, "fcrDays: must not be negative"),
    ],
)
def test_a_bad_parameter_is_named(query: dict[str, str], message: str):
    with pytest.raises(BadReportParameter) as refused:
        report_request("acme", query)
    assert message in str(refused.value)


class FakeReports:
    def __init__(self, reply: integration_pb2.GetReportResponse) -> None:
        self.reply = reply
        self.asked: list[integration_pb2.GetReportRequest] = []

    async def GetReport(
        self, request: integration_pb2.GetReportRequest, **_: Any
    ) -> integration_pb2.GetReportResponse:
        self.asked.append(request)
        return self.reply


async def test_the_reply_keeps_counts_and_leaves_unmeasured_ratios_out():
    reply = integration_pb2.GetReportResponse(
        time_zone="UTC",
        interval="hour",
        rows=[
            integration_pb2.ReportRow(
                start="2026-03-29T09:00:00+00:00",
                end="2026-03-29T10:00:00+00:00",
                group="support",
                offered=3,
                answered=2,
                abandoned=1,
                service_level=0.5,
            ),
            integration_pb2.ReportRow(
                start="2026-03-29T10:00:00+00:00", end="2026-03-29T11:00:00+00:00", group="support"
            ),
        ],
    )
    reports = FakeReports(reply)
    request = report_request("acme", {"start": "2026-03-29", "end": "2026-03-30"})
    document = await read_report(reports, request)
    assert reports.asked == [request]
    assert document["timeZone"] == "UTC" and document["interval"] == "hour"
    busy, quiet = document["rows"]
    assert (busy["offered"], busy["answered"], busy["abandoned"], busy["serviceLevel"]) == (3, 2, 1, 0.5)
    assert quiet["offered"] == 0 and quiet["answered"] == 0
    assert "serviceLevel" not in quiet and "averageSpeedOfAnswer" not in quiet


async def test_an_empty_period_has_no_rows():
    document = await read_report(FakeReports(integration_pb2.GetReportResponse()), report_request("acme", {}))
    assert document["rows"] == []
