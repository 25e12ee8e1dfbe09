"""`ccctl integrations ...`: webhook subscriptions and their dead letters, through the integration contract.

    ccctl integrations list --tenant acme
    WEBHOOK_SECRET=whsec_... ccctl integrations create acme-crm --tenant acme \\
        --url https://crm.example.com/hooks --events contact_created,contact_closed \\
        --filter 'event.data.channel == "CHANNEL_KIND_SMS"'
    ccctl integrations create acme-crm --tenant acme --url ... --generate-secret   # prints it once
    ccctl integrations delete acme-crm --tenant acme
    ccctl integrations dlq list acme-crm --tenant acme
    ccctl integrations dlq replay acme-crm --tenant acme [--event ID ...]

Calls go to the integration service of `--region` over NATS, with an admin token minted from the
platform's auth secret (CC_AUTH_SECRET or .data/auth-secret). The signing secret is read from an
environment variable, never from the command line, so it stays out of shell history.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import secrets
import sys
from datetime import UTC, datetime
from typing import Any

from ccctl.commands import EXIT_USAGE, CommandError, add_nats_url_option, connected
from ccctl.commands.token import local_token
from ccmesh.rpc_client import MeshChannel, mesh_stub
from ccmesh.status import RpcError
from contactcenter.integration.v1 import integration_pb2
from contactcenter.integration.v1.integration_pb2_grpc import IntegrationServiceStub


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "integrations", help="manage webhook subscriptions and dead letters"
    )
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    listing = verbs.add_parser("list", help="list the tenant's subscriptions")
    _common(listing)
    listing.set_defaults(handler=run_list)

    create = verbs.add_parser("create", help="create or replace a subscription")
    create.add_argument("name", help="subscription name (unique, a DNS label)")
    _common(create)
    create.add_argument("--url", required=True, help="endpoint URL (https://)")
    create.add_argument("--endpoint-region", help="region the endpoint is in (default: --region)")
    create.add_argument("--events", default="", help="comma-separated event types (default: every type)")
    create.add_argument("--filter", default="", help="CEL expression over `event`")
    create.add_argument("--disabled", action="store_true", help="store it paused")
    secret = create.add_mutually_exclusive_group()
    secret.add_argument(
        "--secret-env", default="WEBHOOK_SECRET", help="environment variable holding the whsec_ secret"
    )
    secret.add_argument("--generate-secret", action="store_true", help="generate a secret and print it once")
    create.set_defaults(handler=run_create)

    delete = verbs.add_parser("delete", help="delete a subscription")
    delete.add_argument("name")
    _common(delete)
    delete.set_defaults(handler=run_delete)

    dlq = verbs.add_parser("dlq", help="inspect and replay dead letters")
    dlq_verbs = dlq.add_subparsers(dest="dlq_verb", required=True, metavar="VERB")
    dlq_list = dlq_verbs.add_parser("list", help="list a subscription's dead letters")
    dlq_list.add_argument("name")
    _common(dlq_list)
    dlq_list.set_defaults(handler=run_dlq_list)
    replay = dlq_verbs.add_parser("replay", help="deliver dead letters again")
    replay.add_argument("name")
    _common(replay)
    replay.add_argument("--event", action="append", default=[], help="only this event id (repeatable)")
    replay.set_defaults(handler=run_dlq_replay)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tenant", required=True, help="tenant id")
    parser.add_argument(
        "--region", default=os.environ.get("CC_REGION", "local"), help="region whose service to ask"
    )
    add_nats_url_option(parser)


async def _call(args: argparse.Namespace, method: str, request: Any) -> Any:
    token = local_token(args.tenant, "admin", "ccctl")
    async with connected(args.nats_url) as nc:
        stub = mesh_stub(
            IntegrationServiceStub, MeshChannel(nc, args.region, token=token, default_timeout=30.0)
        )
        try:
            return await getattr(stub, method)(request)
        except RpcError as error:
            raise CommandError(f"{error.code.name}: {error.message}") from None


def run_list(args: argparse.Namespace) -> int:
    reply = asyncio.run(
        _call(args, "ListSubscriptions", integration_pb2.ListSubscriptionsRequest(tenant_id=args.tenant))
    )
    if not reply.subscriptions:
        print("No subscriptions found.", file=sys.stderr)
        return 0
    rows = [("NAME", "REGION", "ENABLED", "EVENTS", "URL")] + [
        (s.name, s.endpoint_region, str(s.enabled).lower(), ",".join(s.event_types) or "*", s.url)
        for s in reply.subscriptions
    ]
    _print_table(rows)
    return 0


def run_create(args: argparse.Namespace) -> int:
    if args.generate_secret:
        secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    else:
        secret = os.environ.get(args.secret_env, "")
        if not secret:
            raise CommandError(
                f"no signing secret: set {args.secret_env}=whsec_... or pass --generate-secret", EXIT_USAGE
            )
    subscription = integration_pb2.Subscription(
        name=args.name,
        tenant_id=args.tenant,
        endpoint_region=args.endpoint_region or args.region,
        url=args.url,
        secret=secret,
        event_types=[e.strip() for e in args.events.split(",") if e.strip()],
        filter=args.filter,
        enabled=not args.disabled,
    )
    reply = asyncio.run(
        _call(args, "ApplySubscription", integration_pb2.ApplySubscriptionRequest(subscription=subscription))
    )
    verb = "created" if reply.created else "configured"
    print(f"webhooksubscription/{args.name} {verb} (generation {reply.generation})")
    if args.generate_secret:
        print(f"signing secret (shown once): {secret}")
    return 0


def run_delete(args: argparse.Namespace) -> int:
    request = integration_pb2.DeleteSubscriptionRequest(tenant_id=args.tenant, name=args.name)
    reply = asyncio.run(_call(args, "DeleteSubscription", request))
    if not reply.deleted:
        raise CommandError(f'webhooksubscription "{args.name}" not found')
    print(f"webhooksubscription/{args.name} deleted")
    return 0


def run_dlq_list(args: argparse.Namespace) -> int:
    request = integration_pb2.ListDeadLettersRequest(tenant_id=args.tenant, subscription=args.name)
    reply = asyncio.run(_call(args, "ListDeadLetters", request))
    if not reply.dead_letters:
        print("No dead letters.", file=sys.stderr)
        return 0
    rows = [("EVENT", "TYPE", "CONTACT", "ATTEMPTS", "DEAD-LETTERED", "REASON")] + [
        (
            d.event_id,
            d.event_type,
            d.contact_id,
            str(d.attempts),
            datetime.fromtimestamp(d.dead_lettered_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            d.reason,
        )
        for d in reply.dead_letters
    ]
    _print_table(rows)
    return 0


def run_dlq_replay(args: argparse.Namespace) -> int:
    request = integration_pb2.ReplayDeadLettersRequest(
        tenant_id=args.tenant, subscription=args.name, event_ids=args.event
    )
    reply = asyncio.run(_call(args, "ReplayDeadLetters", request))
    print(f"replayed {reply.delivered} event(s); {len(reply.failed)} still failing")
    for failed in reply.failed:
        print(f"  {failed.event_id}: {failed.reason}")
    return 0 if not reply.failed else 1


def _print_table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("   ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
