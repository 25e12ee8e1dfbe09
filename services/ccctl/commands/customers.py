"""`ccctl customers find|get|timeline`: who a customer is and what happened, from identity.

    ccctl customers find --tenant acme --brand acme-retail --phone "+44 20 7946 0958"
    ccctl customers get 3f2a... --tenant acme --brand acme-retail
    ccctl customers timeline 3f2a... --tenant acme --brand acme-retail [--limit 50] [-o json]

Calls go to the identity service of `--region` over NATS with `--token` (or $CC_TOKEN), else a
token minted like `ccctl token` does (`--role`, `--subject`, from CC_AUTH_SECRET or
.data/auth-secret). A lookup never creates a customer; `--brand` is required where the tenant
keeps its brands' customers apart.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from datetime import UTC, datetime
from typing import Any

import orjson

from ccctl.commands import CommandError, add_nats_url_option, connected
from ccctl.commands.token import local_token
from ccmesh.customer_views import IDENTIFIER_KINDS, customer_view, timeline_entry_view
from ccmesh.rpc_client import MeshChannel, mesh_stub
from ccmesh.status import RpcError
from contactcenter.common.v1 import common_pb2
from contactcenter.identity.v1 import identity_pb2
from contactcenter.identity.v1.identity_pb2_grpc import IdentityServiceStub

READ_ROLES = ("admin", "supervisor", "agent")


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "customers", help="find a customer by identifier, read them and their timeline"
    )
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    find = verbs.add_parser("find", help="the customer who owns an identifier (never creates one)")
    for kind in IDENTIFIER_KINDS:
        find.add_argument(
            f"--{kind.replace('_', '-')}", dest=kind, metavar="VALUE", help=f"{kind} to look up"
        )
    _common(find)
    find.set_defaults(handler=run_find)

    get = verbs.add_parser("get", help="one customer: identifiers, attributes, home region")
    get.add_argument("customer_id")
    _common(get)
    get.set_defaults(handler=run_get)

    timeline = verbs.add_parser("timeline", help="the customer's cross-channel history, oldest first")
    timeline.add_argument("customer_id")
    timeline.add_argument("--limit", type=int, default=50, help="entries to show, 1-200 (default 50)")
    _common(timeline)
    timeline.set_defaults(handler=run_timeline)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tenant", required=True, help="tenant id")
    parser.add_argument("--brand", default="", help="brand whose customers to read")
    parser.add_argument(
        "--region", default=os.environ.get("CC_REGION", "eu"), help="region whose identity service to ask"
    )
    parser.add_argument(
        "--token", default=os.environ.get("CC_TOKEN", ""), help="bearer token (default $CC_TOKEN)"
    )
    parser.add_argument(
        "--role", default="supervisor", choices=READ_ROLES, help="role of a minted token (no --token)"
    )
    parser.add_argument("--subject", default="ccctl", help="who a minted token is for (audit records)")
    parser.add_argument("-o", "--output", choices=("text", "json"), default="text", help="output format")
    add_nats_url_option(parser)


def _token(args: argparse.Namespace) -> str:
    return local_token(args.tenant, args.role, args.subject, given=args.token or "")


async def _call(args: argparse.Namespace, method: str, request: Any) -> Any:
    token = _token(args)
    async with connected(args.nats_url) as nc:
        stub = mesh_stub(IdentityServiceStub, MeshChannel(nc, args.region, token=token, default_timeout=10.0))
        try:
            return await getattr(stub, method)(request)
        except RpcError as error:
            raise CommandError(f"{error.code.name}: {error.message}") from None


def _tenant(args: argparse.Namespace) -> common_pb2.TenantRef:
    return common_pb2.TenantRef(tenant_id=args.tenant, brand_id=args.brand)


def run_find(args: argparse.Namespace) -> int:
    identifiers = [
        common_pb2.Identifier(kind=kind, value=getattr(args, name))
        for name, kind in IDENTIFIER_KINDS.items()
        if getattr(args, name)
    ]
    if not identifiers:
        options = ", ".join(f"--{k.replace('_', '-')}" for k in IDENTIFIER_KINDS)
        raise CommandError(f"name an identifier to look up: one of {options}", 2)
    reply = asyncio.run(
        _call(
            args,
            "FindCustomer",
            identity_pb2.FindCustomerRequest(tenant=_tenant(args), identifiers=identifiers),
        )
    )
    _print_customer(args, customer_view(reply.customer))
    return 0


def run_get(args: argparse.Namespace) -> int:
    request = identity_pb2.GetCustomerRequest(tenant=_tenant(args), customer_id=args.customer_id)
    reply = asyncio.run(_call(args, "GetCustomer", request))
    _print_customer(args, customer_view(reply.customer))
    return 0


def run_timeline(args: argparse.Namespace) -> int:
    if not 1 <= args.limit <= 200:
        raise CommandError(f"--limit must be 1-200, got {args.limit}", 2)
    request = identity_pb2.GetTimelineRequest(
        tenant=_tenant(args), customer_id=args.customer_id, page_size=args.limit
    )
    reply = asyncio.run(_call(args, "GetTimeline", request))
    entries = [timeline_entry_view(entry) for entry in reply.entries]
    if args.output == "json":
        print(orjson.dumps({"customerId": args.customer_id, "entries": entries}).decode())
        return 0
    if not entries:
        print("No history yet.", file=sys.stderr)
        return 0
    rows = [("AT", "CHANNEL", "KIND", "CONTACT", "SUMMARY")] + [
        (
            datetime.fromtimestamp(e["at"], UTC).strftime("%Y-%m-%d %H:%M:%S"),
            e["channel"],
            e["kind"],
            e["contactId"][:12],
            " ".join(e["summary"].split())[:100],
        )
        for e in entries
    ]
    _print_table(rows)
    return 0


def _print_customer(args: argparse.Namespace, view: dict[str, Any]) -> None:
    if args.output == "json":
        print(orjson.dumps(view).decode())
        return
    print(f"customer     {view['customerId']}")
    print(f"brand        {view['brand'] or '-'}")
    print(f"home region  {view['homeRegion']}")
    for identifier in view["identifiers"]:
        print(f"{identifier['kind']:<13}{identifier['value']}")
    for key, value in sorted(view["attributes"].items()):
        print(f"{key:<13}{value}")


def _print_table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("   ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
