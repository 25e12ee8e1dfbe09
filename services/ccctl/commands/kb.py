"""`ccctl kb load <tenant> articles.yaml`: load a tenant's knowledge base for agent assist.

The same command as `ccctl ai kb-load`, under the name agents' admins look for first.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from ccctl.commands import add_nats_url_option
from ccctl.commands.ai import run_kb_load


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "kb", help="load knowledge-base articles for agent assist", description=__doc__.split("\n\n")[0]
    )
    commands = parser.add_subparsers(dest="kb_command", required=True, metavar="KB_COMMAND")
    load = commands.add_parser("load", help="load knowledge-base articles for the tenant")
    load.add_argument("tenant", help="tenant id")
    load.add_argument("file", type=Path, help="YAML/JSON with `articles: [{id, title, body, language}]`")
    load.add_argument("--replace", action="store_true", help="replace the whole knowledge base")
    load.add_argument(
        "--region",
        default=os.environ.get("CC_REGION", "eu"),
        help="region whose ai service to call (default: $CC_REGION, else %(default)s)",
    )
    add_nats_url_option(load)
    load.set_defaults(handler=run_kb_load)
