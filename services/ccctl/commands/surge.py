"""`ccctl surge replay FILE.csv`: run the surge detector offline over a CSV of (timestamp, value).

Writes one CSV row per input row to stdout: timestamp, value, baseline, score, alert (0/1) and
direction (+1 above normal, -1 below, 0 normal), so the detector can be evaluated on public
labelled data sets. A malformed row is named and nothing is written.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path
from typing import Any

from ccctl.commands import EXIT_USAGE, CommandError, surge_control
from ccsurge.replay import ReplayInputError, read_series, replay
from ccsurge.settings import DetectorSettings, SurgeSettingsError


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "surge", help="surge detection and fallback", description=__doc__.split("\n\n")[0]
    )
    commands = parser.add_subparsers(dest="surge_command", required=True, metavar="SURGE_COMMAND")
    add_replay(commands)
    surge_control.add_commands(commands)


def add_replay(commands: Any) -> None:
    replay_parser: argparse.ArgumentParser = commands.add_parser(
        "replay", help="score a CSV of (timestamp, value) rows with the surge detector"
    )
    replay_parser.add_argument("file", type=Path, help="CSV with a header row ('-' reads stdin)")
    replay_parser.add_argument("--timestamp-column", default="timestamp", metavar="C")
    replay_parser.add_argument("--value-column", default="value", metavar="C")
    replay_parser.add_argument(
        "--counts",
        action="store_true",
        help="the values are counts per interval (Poisson-stabilised scores)",
    )
    replay_parser.add_argument(
        "--sensitivity", type=float, default=1.0, help="scores are multiplied by this (default %(default)s)"
    )
    replay_parser.add_argument(
        "--min-duration",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="how long an anomaly lasts before it alerts (default %(default)s)",
    )
    replay_parser.add_argument(
        "--clear-duration",
        type=float,
        default=120.0,
        metavar="SECONDS",
        help="how long calm lasts before an alert clears (default %(default)s)",
    )
    replay_parser.set_defaults(handler=run_replay)


def run_replay(args: argparse.Namespace) -> int:
    try:
        settings = DetectorSettings(
            sensitivity=args.sensitivity,
            min_duration_seconds=args.min_duration,
            clear_duration_seconds=args.clear_duration,
            counts=args.counts,
        )
    except SurgeSettingsError as error:
        raise CommandError(str(error), EXIT_USAGE) from None
    try:
        if str(args.file) == "-":
            series = _read(sys.stdin, args)
        else:
            with args.file.open(newline="", encoding="utf-8") as handle:
                series = _read(handle, args)
    except OSError as error:
        raise CommandError(f"cannot read {args.file}: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise CommandError(f"{args.file} is not UTF-8 text", EXIT_USAGE) from None
    except ReplayInputError as error:
        raise CommandError(f"{args.file}: {error}", EXIT_USAGE) from None
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(["timestamp", "value", "baseline", "score", "alert", "direction"])
    for row in replay(series, settings):
        writer.writerow(
            [
                row.timestamp,
                _number(row.value),
                f"{row.baseline:.6g}",
                f"{row.score:.4f}",
                int(row.alert),
                row.direction,
            ]
        )
    return 0


def _read(handle: Any, args: argparse.Namespace) -> Any:
    return read_series(handle, timestamp_column=args.timestamp_column, value_column=args.value_column)


def _number(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)
