"""Subcommands of `ccctl`, one module each, and what they share.

Each module exposes `register(subparsers)`, which adds its parser and sets
`handler=<function(args) -> exit code>` with `set_defaults`. A handler reports an expected
failure by raising `CommandError`; `ccctl.main` prints it as one line and exits with its code.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import nats
import nats.errors
from nats.aio.client import Client as NATS

DEFAULT_NATS_URL = "nats://127.0.0.1:4222"
#: Exit codes: 1 for a failure, 2 for a command line the user must correct (as argparse does).
EXIT_FAILURE = 1
EXIT_USAGE = 2


class CommandError(Exception):
    """An expected failure, reported to the user as one line on stderr."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def add_nats_url_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--nats-url",
        default=os.environ.get("CC_NATS_URL", DEFAULT_NATS_URL),
        metavar="URL",
        help="NATS server to talk to (default: $CC_NATS_URL, else %(default)s)",
    )


@asynccontextmanager
async def connected(url: str) -> AsyncIterator[NATS]:
    """A NATS connection that fails fast with a `CommandError` naming `url`.

    NATS errors raised inside the block become `CommandError` too, so a handler needs no
    try/except of its own for "the server went away".
    """

    async def quiet(_: Exception) -> None:
        # nats-py logs every failed attempt by default; the CommandError below says it once.
        return None

    try:
        # One retry (nats-py would otherwise retry a refused connection forever).
        client = await nats.connect(
            url,
            connect_timeout=3,
            max_reconnect_attempts=1,
            reconnect_time_wait=0.2,
            error_cb=quiet,
        )
    except (OSError, TimeoutError, nats.errors.Error) as err:
        raise CommandError(f"cannot connect to NATS at {url}: {_reason(err)}") from None
    try:
        yield client
    except nats.errors.NoRespondersError:
        raise CommandError(
            f"NATS at {url} did not answer a JetStream request: is JetStream enabled?"
        ) from None
    except (TimeoutError, nats.errors.Error) as err:
        raise CommandError(f"NATS at {url}: {_reason(err)}") from None
    finally:
        await client.close()


def _reason(err: BaseException) -> str:
    text = str(err).removeprefix("nats: ")
    return text or type(err).__name__
