"""The reports page's data: HTTP query parameters checked into a GetReport request, the reply
as JSON-ready rows.

The integration service of this region owns the report itself (its analytics store, the
parameters' meaning and their checks); here only what the query string cannot carry as the
request's types is refused: unknown parameters and numbers that are not numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from google.protobuf.json_format import MessageToDict

from contactcenter.integration.v1 import integration_pb2

#: Query parameter -> GetReportRequest field (text ones; numbers below).
_TEXT_PARAMETERS = {
    "start": "start",
    "end": "end",
    "interval": "interval",
    "by": "group_by",
    "timeZone": "time_zone",
}
_NUMBER_PARAMETERS = ("serviceLevelSeconds", "fcrDays")
PARAMETERS = (*_TEXT_PARAMETERS, *_NUMBER_PARAMETERS)


class BadReportParameter(ValueError):
    """A query parameter the page (or a script) sent that no report takes; names it."""


class ReportReader(Protocol):
    async def GetReport(
        self, request: integration_pb2.GetReportRequest, **kwargs: Any
    ) -> integration_pb2.GetReportResponse: ...


def _number(name: str, text: str, *, whole: bool) -> float:
    try:
        value = int(text) if whole else float(text)
    except ValueError:
        kind = "a whole number" if whole else "a number"
        raise BadReportParameter(f"{name}: not {kind}: {text!r}") from None
    if not value >= 0:  # also refuses NaN
        raise BadReportParameter(f"{name}: must not be negative, got {text!r}")
    return value


def report_request(tenant_id: str, query: Mapping[str, str]) -> integration_pb2.GetReportRequest:
    unknown = sorted(set(query) - set(PARAMETERS))
    if unknown:
        raise BadReportParameter(
            f"unknown parameter(s) {', '.join(unknown)}; accepted: {', '.join(PARAMETERS)}"
        )
    request = integration_pb2.GetReportRequest(tenant_id=tenant_id)
    for name, field in _TEXT_PARAMETERS.items():
        setattr(request, field, query.get(name, "").strip())
    # Empty means "the default" (each queue's own target, 7 days), as in the RPC.
    if sl := query.get("serviceLevelSeconds", "").strip():
        request.service_level_seconds = _number("serviceLevelSeconds", sl, whole=False)
    if fcr := query.get("fcrDays", "").strip():
        request.fcr_days = int(_number("fcrDays", fcr, whole=True))
    return request


async def read_report(reader: ReportReader, request: integration_pb2.GetReportRequest) -> dict[str, Any]:
    """The report as JSON: `{interval, timeZone, rows: [{start, end, group, offered, ...}]}`.

    A ratio with nothing to divide by is left out of its row (the page shows a gap), never 0."""
    reply = await reader.GetReport(request)
    document = MessageToDict(reply, always_print_fields_with_no_presence=True)
    document.setdefault("rows", [])
    return document
