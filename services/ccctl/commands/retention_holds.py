"""`ccctl retention hold|release|holds|forget|verify`: legal holds and signed erasures.

    ccctl retention hold --tenant acme (--customer ID | --contact ID) --reason TEXT
    ccctl retention release --tenant acme HOLD_ID [--reason TEXT]
    ccctl retention holds --tenant acme
    ccctl retention forget --tenant acme --brand acme --customer ID --reason TEXT [--report FILE]
    ccctl retention verify FILE

Holds and erasures go through the region's identity service as an admin (a token minted from
CC_AUTH_SECRET or .data/auth-secret, or --token). `forget` prints (or writes to --report) the
erasure's report and signature; `verify` checks that signature with the region's auth secret
and exits 1 when the report was changed or signed with another secret.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from ccctl.commands import EXIT_USAGE, CommandError, add_nats_url_option, connected
from ccctl.commands.token import UNAUTHENTICATED_HELP, load_secret, local_token
from ccmesh.retention_erasure import ErasureReportError, verify
from ccmesh.rpc_client import MeshChannel, mesh_stub
from ccmesh.status import RpcError
from contactcenter.common.v1 import common_pb2
from contactcenter.identity.v1 import identity_pb2 as pb
from contactcenter.identity.v1.identity_pb2_grpc import IdentityServiceStub

#: An erasure reads every store of the region once: give it the issue's minute.
_FORGET_TIMEOUT_SECONDS = 60.0


def register_verbs(verbs: Any) -> None:
    hold = verbs.add_parser("hold", help="place a legal hold on a customer or a contact")
    _common(hold)
    target = hold.add_mutually_exclusive_group(required=True)
    target.add_argument("--customer", default="", help="customer id to hold (all their contacts)")
    target.add_argument("--contact", default="", help="contact id to hold")
    hold.add_argument("--reason", required=True, help="the case or request the hold serves")
    hold.set_defaults(handler=run_hold)

    release = verbs.add_parser("release", help="release a legal hold (its copies are deleted)")
    _common(release)
    release.add_argument("hold_id", help="id printed by `ccctl retention hold` or `holds`")
    release.add_argument("--reason", default="", help="why the hold ends")
    release.set_defaults(handler=run_release)

    holds = verbs.add_parser("holds", help="list a tenant's legal holds in the region")
    _common(holds)
    holds.set_defaults(handler=run_holds)

    forget = verbs.add_parser(
        "forget", help="erase a customer everywhere in the region; prints a signed report"
    )
    _common(forget)
    forget.add_argument("--customer", required=True, help="customer id to erase")
    forget.add_argument("--reason", required=True, help="the erasure request (kept in the audit trail)")
    forget.add_argument("--report", default=None, metavar="FILE", help="write the signed report here")
    forget.set_defaults(handler=run_forget)

    check = verbs.add_parser("verify", help="check an erasure report's signature with the region's secret")
    check.add_argument("file", metavar="FILE", help="report written by `ccctl retention forget --report`")
    check.set_defaults(handler=run_verify)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tenant", required=True, help="tenant id")
    parser.add_argument("--brand", default="", help="brand (required where the tenant isolates brands)")
    parser.add_argument("--region", default=os.environ.get("CC_REGION", "eu"), help="region to act in")
    parser.add_argument("--token", default=os.environ.get("CC_TOKEN", ""), help="admin bearer token")
    parser.add_argument("--subject", default="ccctl", help="who a minted token is for (audit records)")
    parser.add_argument("-o", "--output", choices=("text", "json"), default="text", help="output format")
    add_nats_url_option(parser)


def _token(args: argparse.Namespace) -> str:
    return local_token(args.tenant, "admin", args.subject, given=args.token or "")


async def _call(args: argparse.Namespace, method: str, request: Any, timeout: float = 10.0) -> Any:
    token = _token(args)
    async with connected(args.nats_url) as nc:
        channel = MeshChannel(nc, args.region, token=token, default_timeout=timeout)
        stub = mesh_stub(IdentityServiceStub, channel)
        try:
            return await getattr(stub, method)(request)
        except RpcError as error:
            raise CommandError(f"{error.code.name}: {error.message}") from None


def _run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def _tenant(args: argparse.Namespace) -> common_pb2.TenantRef:
    return common_pb2.TenantRef(tenant_id=args.tenant, brand_id=args.brand)


def hold_json(hold: pb.LegalHold) -> dict[str, Any]:
    return {
        "holdId": hold.hold_id,
        "tenantId": hold.tenant_id,
        "customerId": hold.customer_id,
        "contactId": hold.contact_id,
        "reason": hold.reason,
        "placedBy": hold.placed_by,
        "placedAt": datetime.fromtimestamp(hold.placed_at, UTC).isoformat().replace("+00:00", "Z"),
        "held": dict(hold.held),
    }


def _print_holds(args: argparse.Namespace, holds: list[dict[str, Any]]) -> None:
    if args.output == "json":
        sys.stdout.write(orjson.dumps(holds, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    for hold in holds:
        target = f"customer {hold['customerId']}" if hold["customerId"] else f"contact {hold['contactId']}"
        held = ", ".join(f"{n} {kind}" for kind, n in sorted(hold["held"].items())) or "nothing"
        print(f"{hold['holdId']}  {target}  since {hold['placedAt']} by {hold['placedBy']}: {hold['reason']}")
        print(f"    keeps {held}")


def run_hold(args: argparse.Namespace) -> int:
    request = pb.PlaceLegalHoldRequest(
        tenant=_tenant(args), customer_id=args.customer, contact_id=args.contact, reason=args.reason
    )
    reply = _run(_call(args, "PlaceLegalHold", request, _FORGET_TIMEOUT_SECONDS))
    _print_holds(args, [hold_json(reply.hold)])
    return 0


def run_release(args: argparse.Namespace) -> int:
    request = pb.ReleaseLegalHoldRequest(tenant=_tenant(args), hold_id=args.hold_id, reason=args.reason)
    reply = _run(_call(args, "ReleaseLegalHold", request, _FORGET_TIMEOUT_SECONDS))
    print(f"released legal hold {args.hold_id}: {reply.deleted} held copies deleted")
    return 0


def run_holds(args: argparse.Namespace) -> int:
    reply = _run(_call(args, "ListLegalHolds", pb.ListLegalHoldsRequest(tenant=_tenant(args))))
    _print_holds(args, [hold_json(hold) for hold in reply.holds])
    return 0


def run_forget(args: argparse.Namespace) -> int:
    request = pb.ForgetCustomerRequest(tenant=_tenant(args), customer_id=args.customer, reason=args.reason)
    reply = _run(_call(args, "ForgetCustomer", request, _FORGET_TIMEOUT_SECONDS))
    signed = orjson.dumps({"report": reply.report, "signature": reply.signature}, option=orjson.OPT_INDENT_2)
    if args.report:
        Path(args.report).write_bytes(signed + b"\n")
        total = sum(reply.removed.values())
        print(f"erased customer {args.customer}: {total} records removed; signed report in {args.report}")
    else:
        sys.stdout.write(signed.decode() + "\n")
    for part in reply.incomplete:
        print(f"incomplete: {part}", file=sys.stderr)
    # The erasure is not finished while another service's part failed: say so in the exit code.
    return 1 if reply.incomplete else 0


def run_verify(args: argparse.Namespace) -> int:
    try:
        signed = orjson.loads(Path(args.file).read_bytes())
        report, signature = str(signed["report"]), str(signed["signature"])
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError) as err:
        raise CommandError(
            f"{args.file}: not a signed erasure report (JSON with 'report' and 'signature'): {err}",
            EXIT_USAGE,
        ) from None
    secret = load_secret()
    if secret is None:
        raise CommandError(UNAUTHENTICATED_HELP, EXIT_USAGE)
    try:
        document = verify(report, signature, secret)
    except ErasureReportError as err:
        raise CommandError(f"{args.file}: {err}") from None
    removed = document.get("removed", {})
    print(
        f"valid: customer {document.get('customerId')} erased in region {document.get('region')} "
        f"by {document.get('actor')}; {sum(removed.values())} records removed from {len(removed)} stores"
    )
    for part in document.get("incomplete", []):
        print(f"incomplete: {part}")
    return 0
