"""`ccctl up`: bring the whole platform up on the embedded NATS server (what `make run` does)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from ccctl.launcher import LaunchPlan, run

_REGION = re.compile(r"^[a-z]([a-z0-9-]{0,30}[a-z0-9])?$")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "up", help="start nats-server and every service as local processes; Ctrl-C stops all"
    )
    parser.add_argument(
        "--regions",
        default="eu",
        help="comma-separated regions to run, each with its examples/<region>.yaml (default: eu)",
    )
    parser.add_argument(
        "--data-dir", default=".data", help="state directory, reused across runs (default .data)"
    )
    parser.add_argument("--examples", default="examples", help="folder with the ContactCenter examples")
    parser.add_argument("--nats-port", type=int, default=4222, help="client port of the embedded NATS server")
    parser.add_argument("--grpc-base-port", type=int, default=50051, help="first gRPC API port")
    parser.set_defaults(handler=handle)


def handle(options: argparse.Namespace) -> int:
    regions = [r.strip() for r in options.regions.split(",") if r.strip()]
    bad = [r for r in regions if not _REGION.match(r)]
    if not regions or bad:
        raise SystemExit(
            f"ccctl up: --regions must list region names like eu,us; bad: {bad or options.regions!r}"
        )
    if len(set(regions)) != len(regions):
        raise SystemExit(f"ccctl up: --regions lists a region twice: {options.regions!r}")
    for name, port in (("--nats-port", options.nats_port), ("--grpc-base-port", options.grpc_base_port)):
        if not 1 <= port <= 65000:
            raise SystemExit(f"ccctl up: {name} must be a port number, got {port}")
    plan = LaunchPlan(
        data_dir=Path(options.data_dir).resolve(),
        regions=regions,
        examples_dir=Path(options.examples),
        nats_port=options.nats_port,
        grpc_base_port=options.grpc_base_port,
    )
    return run(plan)
