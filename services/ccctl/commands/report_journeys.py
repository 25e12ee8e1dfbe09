"""`ccctl report journeys`: a period's journey paths per flow and version.

    ccctl report journeys --tenant acme --start 2026-03-29 --end 2026-03-30 [--flow support] \\
        [--top 10] [--time-zone Europe/Berlin] [-o table|json] [--region eu]

Asks the integration service of `--region` (GetJourneyReport) with a supervisor token: per flow
and version, the journeys that ended in the period by outcome, the most frequent paths, and the
drop-off (how many journeys ended at each node, and how).
"""

from __future__ import annotations

import argparse
import asyncio
import os
from typing import Any

import orjson
from google.protobuf.json_format import MessageToDict

from ccctl.commands import EXIT_USAGE, CommandError, add_nats_url_option, connected
from ccctl.commands.token import local_token
from ccmesh.rpc_client import MeshChannel, mesh_stub
from ccmesh.status import RpcError
from contactcenter.integration.v1 import integration_pb2
from contactcenter.integration.v1.integration_pb2_grpc import IntegrationServiceStub


def register(actions: Any) -> None:
    parser: argparse.ArgumentParser = actions.add_parser(
        "journeys", help="journey paths of a period: outcomes, frequent paths, drop-off per node"
    )
    parser.add_argument("--tenant", required=True, help="tenant id")
    parser.add_argument("--start", required=True, help="first day or instant (ISO 8601), included")
    parser.add_argument("--end", required=True, help="last day or instant (ISO 8601), excluded")
    parser.add_argument("--flow", default="", help="only this flow (default: every flow)")
    parser.add_argument("--top", type=int, default=0, help="paths listed per flow and version (default 10)")
    parser.add_argument("--time-zone", default="UTC", help="IANA time zone of dates without an offset")
    parser.add_argument("-o", "--output", choices=("table", "json"), default="table")
    parser.add_argument(
        "--region", default=os.environ.get("CC_REGION", "local"), help="region whose store to ask"
    )
    add_nats_url_option(parser)
    parser.set_defaults(handler=run)


async def _report(args: argparse.Namespace) -> integration_pb2.GetJourneyReportResponse:
    token = local_token(args.tenant, "supervisor", "ccctl")
    request = integration_pb2.GetJourneyReportRequest(
        tenant_id=args.tenant,
        start=args.start,
        end=args.end,
        time_zone=args.time_zone,
        flow=args.flow,
        top_paths=args.top,
    )
    async with connected(args.nats_url) as nc:
        stub = mesh_stub(
            IntegrationServiceStub, MeshChannel(nc, args.region, token=token, default_timeout=60.0)
        )
        try:
            reply: integration_pb2.GetJourneyReportResponse = await stub.GetJourneyReport(request)
            return reply
        except RpcError as error:
            code = EXIT_USAGE if error.code.name == "INVALID_ARGUMENT" else 1
            raise CommandError(f"{error.code.name}: {error.message}", code) from None


def as_text(reply: integration_pb2.GetJourneyReportResponse) -> str:
    lines: list[str] = []
    for flow in reply.flows:
        outcomes = ", ".join(f"{name} {count}" for name, count in sorted(flow.outcomes.items()))
        timed = flow.HasField("average_duration_seconds")
        duration = f", mean {flow.average_duration_seconds:.1f}s" if timed else ""
        lines.append(f"{flow.flow} v{flow.version}: {flow.journeys} journeys ({outcomes}){duration}")
        lines.append("  paths:")
        for path in flow.paths:
            more = " > ..." if path.truncated else ""
            lines.append(f"    {path.journeys:>6}  {' > '.join(path.path)}{more}")
        lines.append("  ended at:")
        for drop in flow.drop_offs:
            lines.append(f"    {drop.journeys:>6}  {drop.node} ({drop.outcome})")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    if args.top < 0:
        raise CommandError("--top: must not be negative", EXIT_USAGE)
    reply = asyncio.run(_report(args))
    if args.output == "json":
        document = MessageToDict(
            reply, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
        )
        print(orjson.dumps(document).decode())
    else:
        print(as_text(reply) if reply.flows else "No journeys ended in this period.")
    return 0
