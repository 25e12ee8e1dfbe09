"""Entry point of `ccctl`: parse the command line and dispatch to one subcommand module."""

from __future__ import annotations

import argparse
import sys

from ccctl.commands import (
    CommandError,
    ai,
    apply,
    audit,
    contacts,
    customers,
    flow,
    get,
    integrations,
    kb,
    policy,
    report,
    retention,
    sandbox,
    status,
    surge,
    token,
    up,
)

#: Every subcommand module; adding one is adding it here.
SUBCOMMANDS = (
    apply,
    get,
    status,
    up,
    token,
    integrations,
    flow,
    ai,
    kb,
    sandbox,
    customers,
    contacts,
    surge,
    report,
    retention,
    audit,
    policy,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ccctl", description="Apply and inspect the configuration of the contact center platform."
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in SUBCOMMANDS:
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        # argparse exits on --help (0) and on usage errors (2); return the code so that
        # in-process callers (tests, other tools) are not exited.
        return exit_.code if isinstance(exit_.code, int) else 2
    try:
        return int(args.handler(args))
    except CommandError as err:
        print(f"ccctl {args.command}: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
