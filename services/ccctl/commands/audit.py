"""`ccctl audit`: who read customer data or changed something, from the region's audit log.

    ccctl audit --tenant acme [--since 2026-12-01T00:00] [--until ...] [--actor alice]
        [--role supervisor] [--kind read|change] [--outcome allowed|denied] [--action GetQueueStats]
        [--target queue=billing] [--limit 100] [-o json]

Asks the identity service of `--region` (QueryAudit) with `--token` (or $CC_TOKEN), else a token
minted for the admin role like `ccctl token` does. Only admins and auditors may read the log.
Records come oldest first; when more matched than `--limit`, the last line says how to go on.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from datetime import UTC, datetime
from typing import Any

import orjson
from google.protobuf.json_format import MessageToDict

from ccctl.commands import EXIT_USAGE, CommandError, add_nats_url_option, connected
from ccctl.commands.token import local_token
from ccmesh.audit_query import MAX_LIMIT
from ccmesh.rpc_client import MeshChannel, mesh_stub
from ccmesh.status import RpcError
from contactcenter.identity.v1 import identity_pb2
from contactcenter.identity.v1.identity_pb2_grpc import IdentityServiceStub


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "audit", help="who read customer data or changed configuration, when (admins and auditors)"
    )
    parser.add_argument("--tenant", required=True, help="tenant id")
    parser.add_argument(
        "--region", default=os.environ.get("CC_REGION", "eu"), help="region whose audit log to read"
    )
    parser.add_argument("--since", default="", help="from this time (ISO 8601, UTC unless it names a zone)")
    parser.add_argument("--until", default="", help="up to this time (ISO 8601)")
    parser.add_argument("--actor", default="", help="only this token subject")
    parser.add_argument("--role", default="", help="only callers of this role")
    parser.add_argument("--kind", default="", choices=("", "read", "change"), help="reads or changes")
    parser.add_argument("--outcome", default="", choices=("", "allowed", "denied"), help="allowed or denied")
    parser.add_argument("--action", default="", help="only actions containing this text (e.g. GetQueueStats)")
    parser.add_argument("--target", default="", help="only targets containing this text (e.g. queue=billing)")
    parser.add_argument(
        "--limit", type=int, default=100, help=f"records to show, 1-{MAX_LIMIT} (default 100)"
    )
    parser.add_argument(
        "--after", type=int, default=0, help="continue after this position (from a previous page)"
    )
    parser.add_argument(
        "--token", default=os.environ.get("CC_TOKEN", ""), help="bearer token (default $CC_TOKEN)"
    )
    parser.add_argument("--subject", default="ccctl", help="who a minted admin token is for (no --token)")
    parser.add_argument("-o", "--output", choices=("text", "json"), default="text", help="output format")
    add_nats_url_option(parser)
    parser.set_defaults(handler=run)


def parse_time(text: str, name: str) -> float:
    """Unix seconds of an ISO 8601 time (UTC when no zone is given); 0 for ""."""
    if not text:
        return 0.0
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(
            f"--{name}: {text!r} is not an ISO 8601 time such as 2026-12-01T08:00", EXIT_USAGE
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def request_of(args: argparse.Namespace) -> identity_pb2.QueryAuditRequest:
    if not 1 <= args.limit <= MAX_LIMIT:
        raise CommandError(f"--limit: must be between 1 and {MAX_LIMIT}, got {args.limit}", EXIT_USAGE)
    return identity_pb2.QueryAuditRequest(
        tenant_id=args.tenant,
        since=parse_time(args.since, "since"),
        until=parse_time(args.until, "until"),
        actor=args.actor,
        role=args.role,
        kind=args.kind,
        outcome=args.outcome,
        action=args.action,
        target=args.target,
        limit=args.limit,
        after_sequence=max(0, args.after),
    )


def _token(args: argparse.Namespace) -> str:
    return local_token(args.tenant, "admin", args.subject, given=args.token or "")


async def _query(args: argparse.Namespace, request: identity_pb2.QueryAuditRequest) -> Any:
    token = _token(args)
    async with connected(args.nats_url) as nc:
        stub = mesh_stub(IdentityServiceStub, MeshChannel(nc, args.region, token=token, default_timeout=30.0))
        try:
            return await stub.QueryAudit(request)
        except RpcError as error:
            raise CommandError(f"{error.code.name}: {error.message}") from None


def line_of(record: identity_pb2.AccessAuditRecord) -> str:
    when = datetime.fromtimestamp(record.at, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    text = (
        f"{when} {record.region} {record.outcome:7} {record.kind:6} {record.role}:{record.actor} "
        f"{record.action}"
    )
    if record.target:
        text += f" [{record.target}]"
    if record.reason:
        text += f" ({record.reason})"
    return text


def run(args: argparse.Namespace) -> int:
    request = request_of(args)
    reply = asyncio.run(_query(args, request))
    if args.output == "json":
        body = MessageToDict(
            reply, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
        )
        sys.stdout.write(orjson.dumps(body, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    for record in reply.records:
        print(line_of(record))
    if not reply.records:
        print("no audit records matched", file=sys.stderr)
    if reply.next_sequence:
        print(f"more records matched: add --after {reply.next_sequence}", file=sys.stderr)
    return 0
