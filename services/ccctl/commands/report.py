"""`ccctl report`: standard contact-center metrics of a period from the region's analytics store.

    ccctl report --tenant acme --start 2026-03-29 --end 2026-03-30 --interval hour \\
        --by queue --time-zone Europe/Berlin [-o table|csv|json] [--region eu]
    ccctl report export --tenant acme --from 2026-03-29 --to 2026-03-30 --format parquet --file F

Asks the integration service of `--region` (GetReport) over NATS with a supervisor token minted
from the platform's auth secret (CC_AUTH_SECRET or .data/auth-secret). A bad parameter is refused
by the service with its name (e.g. `interval: unknown 'week'; one of 15m, hour, day`).
Times are in seconds; rates are fractions (0.8 = 80%); an empty cell has nothing to divide by.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import os
from collections.abc import Sequence
from typing import Any

import orjson
from google.protobuf.json_format import MessageToDict

from ccctl.commands import (
    EXIT_USAGE,
    CommandError,
    add_nats_url_option,
    connected,
    report_export,
    report_journeys,
)
from ccctl.commands.token import local_token
from ccmesh.rpc_client import MeshChannel, mesh_stub
from ccmesh.status import RpcError
from contactcenter.integration.v1 import integration_pb2
from contactcenter.integration.v1.integration_pb2_grpc import IntegrationServiceStub

#: Columns in order: (heading, field of ReportRow).
COLUMNS = (
    ("START", "start"),
    ("GROUP", "group"),
    ("OFFERED", "offered"),
    ("ANSWERED", "answered"),
    ("ABANDONED", "abandoned"),
    ("SL", "service_level"),
    ("ABANDON%", "abandon_rate"),
    ("ASA", "average_speed_of_answer"),
    ("AHT", "average_handle_time"),
    ("ACW", "average_after_contact_work"),
    ("TRANSFERS", "transfers"),
    ("FCR", "first_contact_resolution"),
    ("SENTIMENT", "sentiment"),
    ("OCCUPANCY", "occupancy"),
    ("STAFFED", "staffed_seconds"),
)
#: Columns only a report by agent fills: the table shows them when a row has them.
_AGENT_COLUMNS = frozenset({"occupancy", "staffed_seconds"})
_OPTIONAL = {field.name for field in integration_pb2.ReportRow.DESCRIPTOR.fields if field.has_presence}


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "report", help="contact-center metrics of a period (offered, service level, ASA, AHT, ...)"
    )
    # Required, but checked in `run`: `ccctl report export` takes its own.
    parser.add_argument("--tenant", help="tenant id (required)")
    parser.add_argument("--start", help="first day or instant (ISO 8601), included (required)")
    parser.add_argument("--end", help="last day or instant (ISO 8601), excluded (required)")
    parser.add_argument("--interval", default="hour", help="15m, hour or day (default hour)")
    parser.add_argument(
        "--by", default="", help="group by queue, agent, channel, brand, language or intent (default: none)"
    )
    parser.add_argument("--time-zone", default="UTC", help="IANA time zone of the intervals (default UTC)")
    parser.add_argument(
        "--service-level-seconds",
        type=float,
        default=0.0,
        help="one threshold for all queues (default: each queue's own target)",
    )
    parser.add_argument("--fcr-days", type=int, default=0, help="repeat-contact window (default 7)")
    parser.add_argument("-o", "--output", choices=("table", "csv", "json"), default="table")
    parser.add_argument(
        "--region", default=os.environ.get("CC_REGION", "local"), help="region whose store to ask"
    )
    add_nats_url_option(parser)
    parser.set_defaults(handler=run)
    actions = parser.add_subparsers(dest="report_action", metavar="ACTION")
    report_export.register(actions)
    report_journeys.register(actions)


def request_of(args: argparse.Namespace) -> integration_pb2.GetReportRequest:
    if args.service_level_seconds < 0:
        raise CommandError("--service-level-seconds: must not be negative", EXIT_USAGE)
    if args.fcr_days < 0:
        raise CommandError("--fcr-days: must not be negative", EXIT_USAGE)
    return integration_pb2.GetReportRequest(
        tenant_id=args.tenant,
        start=args.start,
        end=args.end,
        interval=args.interval,
        group_by=args.by,
        time_zone=args.time_zone,
        service_level_seconds=args.service_level_seconds,
        fcr_days=args.fcr_days,
    )


async def _report(args: argparse.Namespace) -> integration_pb2.GetReportResponse:
    token = local_token(args.tenant, "supervisor", "ccctl")
    async with connected(args.nats_url) as nc:
        stub = mesh_stub(
            IntegrationServiceStub, MeshChannel(nc, args.region, token=token, default_timeout=60.0)
        )
        try:
            reply: integration_pb2.GetReportResponse = await stub.GetReport(request_of(args))
            return reply
        except RpcError as error:
            code = EXIT_USAGE if error.code.name == "INVALID_ARGUMENT" else 1
            raise CommandError(f"{error.code.name}: {error.message}", code) from None


def cell(row: integration_pb2.ReportRow, name: str) -> str:
    if name in _OPTIONAL and not row.HasField(name):  # type: ignore[arg-type]
        return ""
    value = getattr(row, name)
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".")
    return str(value)


def as_table(rows: Sequence[integration_pb2.ReportRow]) -> str:
    by_agent = any(row.HasField("staffed_seconds") for row in rows)
    columns = [(h, name) for h, name in COLUMNS if by_agent or name not in _AGENT_COLUMNS]
    lines = [tuple(heading for heading, _ in columns)] + [
        tuple(cell(row, name) or "-" for _, name in columns) for row in rows
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(columns))]
    return "\n".join(
        "  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip() for line in lines
    )


def as_csv(rows: Sequence[integration_pb2.ReportRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["start", "end", *(name for _, name in COLUMNS[1:])])
    for row in rows:
        writer.writerow([row.start, row.end, *(cell(row, name) for _, name in COLUMNS[1:])])
    return out.getvalue().rstrip("\n")


def as_json(reply: integration_pb2.GetReportResponse) -> str:
    document = MessageToDict(
        reply, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
    return orjson.dumps(document).decode()


def run(args: argparse.Namespace) -> int:
    for option in ("tenant", "start", "end"):
        if not getattr(args, option):
            raise CommandError(f"--{option}: required", EXIT_USAGE)
    reply = asyncio.run(_report(args))
    if args.output == "json":
        print(as_json(reply))
    elif args.output == "csv":
        print(as_csv(reply.rows))
    else:
        print(as_table(reply.rows) if reply.rows else "No contacts in this period.")
    return 0
