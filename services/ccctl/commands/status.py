"""`ccctl status`: every platform service in every region, as the mesh sees it."""

from __future__ import annotations

import argparse
import asyncio
import sys

from ccctl.commands import add_nats_url_option, connected
from ccctl.discovery_client import discover, summarize


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("status", help="show every service's instances and health per region")
    add_nats_url_option(parser)
    parser.add_argument(
        "--region", action="append", default=[], help="region that must be present (repeatable)"
    )
    parser.add_argument("--wait", type=float, default=0.5, help="seconds to collect answers (default 0.5)")
    parser.set_defaults(handler=run)


def run(options: argparse.Namespace) -> int:
    return asyncio.run(_status(options))


async def _status(options: argparse.Namespace) -> int:
    async with connected(options.nats_url) as nc:
        instances = await discover(nc, options.wait)
    rows = summarize(instances, options.region)
    if not rows:
        print("no services answered and no region was named; is the platform running?", file=sys.stderr)
        return 1
    widths = (12, 14, 9, 9)
    header = ("SERVICE", "REGION", "INSTANCES", "VERSION")
    print(
        "".join(
            f"{title:<{width + (1 if i == 2 else 0)}}"
            for i, (title, width) in enumerate(zip(header, widths, strict=True))
        )
        + "STATUS"
    )
    for row in rows:
        print(
            f"{row.service:<{widths[0]}}{row.region:<{widths[1]}}{row.instances:<{widths[2]}} "
            f"{row.version:<{widths[3]}}{row.status}"
        )
    return 0 if all(row.status == "SERVING" for row in rows) else 1
