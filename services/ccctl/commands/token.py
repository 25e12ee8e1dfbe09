"""`ccctl token`: mint an API token for a tenant and role (needs the platform's auth secret)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

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
    parser.set_defaults(handler=run)


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
            authority.mint(options.tenant, options.role, options.subject, options.ttl, brands=options.brand)
        )
    except ValueError as error:
        print(f"cannot mint token: {error}", file=sys.stderr)
        return 2
    return 0
