"""`ccctl sandbox messages|calls`: what the platform sent to the local provider sandbox (`make run`).

`messages`: a table (time, kind, to, from, text, outcome) or, with `--json`, the sandbox's records
as they are (`GET /sandbox/api/messages`). `calls`: the sandbox caller's phone calls (status, the
queue they wait in or whom they were put through to, what they heard last). The sandbox address:
`--url`, else $CC_SANDBOX_URL, else the address `ccctl up` gives it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from typing import Any

import aiohttp
import orjson

from ccctl.commands import CommandError
from ccctl.sandbox_process import EXAMPLE_URL

TEXT_WIDTH = 60


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("sandbox", help="what the platform sent to the local provider sandbox")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    messages = actions.add_parser("messages", help="list the SMS, WhatsApp messages, mails and calls sent")
    calls = actions.add_parser("calls", help="list the phone calls of the sandbox's caller")
    for parser_ in (messages, calls):
        parser_.add_argument(
            "--url",
            default=os.environ.get("CC_SANDBOX_URL", EXAMPLE_URL),
            help="the sandbox's address (default: $CC_SANDBOX_URL, else %(default)s)",
        )
        parser_.add_argument("--json", action="store_true", help="print the records as JSON")
        parser_.add_argument("--last", type=int, default=50, help="only the newest N records (default 50)")
    messages.set_defaults(handler=run)
    calls.set_defaults(handler=run_calls)


def run(options: argparse.Namespace) -> int:
    if options.last < 1:
        raise CommandError("--last: must be at least 1", exit_code=2)
    records = asyncio.run(_messages(options.url))[-options.last :]
    if options.json:
        sys.stdout.write(orjson.dumps(records, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    if not records:
        print("nothing sent yet")
        return 0
    print(f"{'TIME':<9}{'KIND':<12}{'TO':<26}{'FROM':<26}{'TEXT':<{TEXT_WIDTH + 2}}OUTCOME")
    for record in records:
        text = " ".join(str(record.get("text", "")).split())
        if len(text) > TEXT_WIDTH:
            text = text[: TEXT_WIDTH - 1] + "…"
        outcome = "delivered" if record.get("accepted") else f"refused: {record.get('error', '')}"
        print(
            f"{time.strftime('%H:%M:%S', time.localtime(float(record.get('at', 0)))):<9}"
            f"{record.get('kind', ''):<12}{str(record.get('to', ''))[:25]:<26}"
            f"{str(record.get('sender', ''))[:25]:<26}{text:<{TEXT_WIDTH + 2}}{outcome}"
        )
    return 0


def run_calls(options: argparse.Namespace) -> int:
    if options.last < 1:
        raise CommandError("--last: must be at least 1", exit_code=2)
    calls = asyncio.run(_get(options.url, "calls"))[-options.last :]
    if options.json:
        sys.stdout.write(orjson.dumps(calls, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    if not calls:
        print("no calls yet")
        return 0
    print(f"{'CALL':<36}{'DIRECTION':<14}{'CUSTOMER':<18}{'STATUS':<13}{'QUEUE / AGENT':<22}LAST HEARD")
    for call in calls:
        said = [
            h["text"] for h in call.get("heard", []) if h.get("verb") in ("Say", "Play") and h.get("text")
        ]
        where = call.get("queue") or call.get("connected_to") or ""
        print(
            f"{call.get('sid', ''):<36}{call.get('direction', ''):<14}{call.get('caller', ''):<18}"
            f"{call.get('status', ''):<13}{where:<22}{(said[-1] if said else '')[:TEXT_WIDTH]}"
        )
    return 0


async def _messages(url: str) -> list[dict[str, Any]]:
    return await _get(url, "messages")


async def _get(url: str, what: str) -> list[dict[str, Any]]:
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session,
            session.get(f"{url.rstrip('/')}/sandbox/api/{what}") as response,
        ):
            if response.status != 200:
                raise CommandError(f"the sandbox at {url} answered HTTP {response.status}")
            body = await response.json()
    except (aiohttp.ClientError, TimeoutError) as error:
        raise CommandError(
            f"no provider sandbox at {url} ({type(error).__name__}); is `make run` running?"
        ) from None
    found: list[dict[str, Any]] = body.get(what, [])
    return found
