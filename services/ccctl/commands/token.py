"""`ccctl token`: mint an API token for a tenant and role (needs the platform's auth secret)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ccctl.commands import EXIT_USAGE, CommandError
from ccmesh.auth import ROLES, TokenAuthority

DEFAULT_SECRET_FILE = Path(".data/auth-secret")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "token", help="mint an API token (secret from CC_AUTH_SECRET or .data/auth-secret)"
    )
    parser.add_argument("--tenant", required=True, help="tenant id the token acts for")
    parser.add_argument(
        "--role", required=True, choices=sorted(ROLES - {"service"}), help="role of the caller"
    )
    parser.add_argument("--subject", default="ccctl", help="who the token is for (shown in audit records)")
    parser.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds (default 3600)")
    parser.add_argument(
        "--brand",
        action="append",
        default=[],
        metavar="BRAND",
        help="limit the token to this brand's customers, contacts and queues (repeat for several; "
        "default: every brand of the tenant)",
    )
    for option, scope in (("--queue", "queues"), ("--region", "regions"), ("--event-type", "event types")):
        parser.add_argument(
            option,
            dest=option[2:].replace("-", "_"),
            action="append",
            default=[],
            metavar=option[2:].upper().replace("-", "_"),
            help=f"limit the token to these {scope} (repeat for several; default: every one)",
        )
    parser.set_defaults(handler=run)


#: How to get the platform's auth secret, for every command that needs a token.
UNAUTHENTICATED_HELP = "no auth secret: set CC_AUTH_SECRET or run `make run` once to create .data/auth-secret"


def local_token(
    tenant: str, role: str, subject: str, ttl_seconds: int = 300, *, given: str | None = None
) -> str:
    """The token one ccctl command calls with: the one the user gave (`--token`; None for a
    command without that option), else one minted with the platform's auth secret for `tenant`
    in `role`, named `subject` in audit records."""
    if given:
        return given
    secret = load_secret()
    if secret is None:
        how = UNAUTHENTICATED_HELP.removeprefix("no auth secret: ")
        raise CommandError(UNAUTHENTICATED_HELP if given is None else f"no token: pass --token, or {how}")
    try:
        return TokenAuthority(secret).mint(tenant, role, subject, ttl_seconds)
    except ValueError as err:
        raise CommandError(f"cannot mint a token: {err}", EXIT_USAGE) from None


def load_secret() -> str | None:
    secret = os.environ.get("CC_AUTH_SECRET")
    if secret:
        return secret
    if DEFAULT_SECRET_FILE.exists():
        return DEFAULT_SECRET_FILE.read_text().strip()
    return None


def run(options: argparse.Namespace) -> int:
    if options.ttl <= 0:
        print(f"--ttl must be positive, got {options.ttl}", file=sys.stderr)
        return 2
    secret = load_secret()
    if secret is None:
        print(
            "no auth secret: set CC_AUTH_SECRET or run `make run` once to create .data/auth-secret",
            file=sys.stderr,
        )
        return 1
    try:
        authority = TokenAuthority(secret)
        print(
            authority.mint(
                options.tenant,
                options.role,
                options.subject,
                options.ttl,
                brands=options.brand,
                queues=options.queue,
                regions=options.region,
                event_types=options.event_type,
            )
        )
    except ValueError as error:
        print(f"cannot mint token: {error}", file=sys.stderr)
        return 2
    return 0
