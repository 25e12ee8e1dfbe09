"""`ccctl surge engage|release|status`: fallback policies by hand, and what is engaged now.

    ccctl surge status --tenant acme
    ccctl surge engage support-burst --tenant acme     # held until released by hand
    ccctl surge release support-burst --tenant acme    # held off until the surge has cleared once

Talks to routing in `--region` with an admin token minted from the platform's secret; the
token's subject (`--by`) is recorded as who engaged or released it.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
from typing import Any

from ccctl.commands import EXIT_USAGE, CommandError, add_nats_url_option, connected
from ccctl.commands.token import local_token
from ccmesh.rpc_client import MeshChannel, mesh_stub
from ccmesh.status import RpcError
from contactcenter.routing.v1 import routing_pb2
from contactcenter.routing.v1.routing_pb2_grpc import RoutingServiceStub


def add_commands(commands: Any) -> None:
    """Adds engage, release and status to the `surge` group."""
    for name, help_text in (
        ("engage", "engage a fallback policy now (held until released by hand)"),
        ("release", "release a fallback policy now (held off until the surge cleared once)"),
    ):
        sub: argparse.ArgumentParser = commands.add_parser(name, help=help_text)
        sub.add_argument("policy", help="policy name (ContactCenter spec.surge.policies[].name)")
        _remote_options(sub)
        sub.set_defaults(handler=run_engage if name == "engage" else run_release)
    status_parser: argparse.ArgumentParser = commands.add_parser(
        "status", help="the tenant's fallback policies: engaged or not, why, since when"
    )
    _remote_options(status_parser)
    status_parser.set_defaults(handler=run_status)


def _remote_options(sub: argparse.ArgumentParser) -> None:
    add_nats_url_option(sub)
    sub.add_argument("--tenant", required=True, help="tenant that owns the policies")
    sub.add_argument(
        "--region",
        default=os.environ.get("CC_REGION", "eu"),
        help="region whose routing service to ask (default $CC_REGION or eu)",
    )
    sub.add_argument("--by", default="ccctl", help="who acts (recorded in the events; default ccctl)")


def run_engage(options: argparse.Namespace) -> int:
    request = routing_pb2.EngageFallbackRequest(tenant_id=options.tenant, policy=options.policy)
    print(render(asyncio.run(_call(options, "EngageFallback", request))))
    return 0


def run_release(options: argparse.Namespace) -> int:
    request = routing_pb2.ReleaseFallbackRequest(tenant_id=options.tenant, policy=options.policy)
    print(render(asyncio.run(_call(options, "ReleaseFallback", request))))
    return 0


def run_status(options: argparse.Namespace) -> int:
    request = routing_pb2.GetFallbackStatusRequest(tenant_id=options.tenant)
    print(render(asyncio.run(_call(options, "GetFallbackStatus", request))))
    return 0


def render(reply: routing_pb2.FallbackStatusResponse) -> str:
    """One line per policy: name, queue, phase (and who holds it), since, evidence, actions."""
    if not reply.policies:
        return "no surge policies (ContactCenter spec.surge.policies)"
    rows = [("POLICY", "QUEUE", "PHASE", "SINCE", "EVIDENCE", "ACTIONS")]
    for policy in reply.policies:
        phase = policy.phase + (f" (manual {policy.manual})" if policy.manual else "")
        since = (
            dt.datetime.fromtimestamp(policy.engaged_at, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            if policy.engaged_at
            else "-"
        )
        evidence = (
            f"{policy.metric}={policy.value:.3g} baseline={policy.baseline:.3g} score={policy.score:.2f}"
            if policy.metric and policy.metric != "manual"
            else policy.metric or "-"
        )
        rows.append((policy.policy, policy.queue or "*", phase, since, evidence, ",".join(policy.actions)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join(
        "  ".join([*(cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)), row[-1]])
        for row in rows
    )


async def _call(options: argparse.Namespace, method: str, request: Any) -> Any:
    if not options.tenant:
        raise CommandError("--tenant is required", EXIT_USAGE)
    token = local_token(options.tenant, "admin", options.by)
    async with connected(options.nats_url) as nc:
        stub = mesh_stub(RoutingServiceStub, MeshChannel(nc, options.region, token=token, default_timeout=10))
        try:
            return await getattr(stub, method)(request)
        except RpcError as error:
            raise CommandError(f"surge {method}: {error.code.name}: {error.message}") from None
