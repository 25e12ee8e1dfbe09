"""`ccctl up`: bring the whole platform up on the embedded NATS server (what `make run` does)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from ccctl.launcher import (
    GATEWAY_HTTP_PORT,
    GATEWAY_SMTP_PORT,
    LaunchError,
    LaunchPlan,
    parse_replicas,
    run,
)
from ccctl.replicas import DEFAULT_REPLICA_CAP
from ccctl.up_observability import PROMETHEUS_PORT

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
    parser.add_argument(
        "--nats-port", type=int, default=4222, help="client port of the embedded NATS server (0: a free one)"
    )
    parser.add_argument(
        "--monitor-port", type=int, default=8222, help="NATS monitoring HTTP port (0: a free one)"
    )
    parser.add_argument(
        "--http-port",
        type=int,
        default=GATEWAY_HTTP_PORT,
        help="HTTP port of the first region's gateway; the next regions take the following ports "
        "(0: free ports)",
    )
    parser.add_argument(
        "--smtp-port",
        type=int,
        default=GATEWAY_SMTP_PORT,
        help="inbound e-mail port of the first region's gateway, next regions follow (0: free ports)",
    )
    parser.add_argument(
        "--grpc-base-port", type=int, default=50051, help="first gRPC API port (0: free ports)"
    )
    parser.add_argument(
        "--replicas",
        default="",
        help="instances per service and region, e.g. routing=2,gateway=2 (default: as each region's "
        "ContactCenter asks, up to --replica-cap)",
    )
    parser.add_argument(
        "--replica-cap",
        type=int,
        default=DEFAULT_REPLICA_CAP,
        help="the most instances of a service a ContactCenter's count starts here "
        f"(default {DEFAULT_REPLICA_CAP}: a light local run; --replicas is not capped)",
    )
    parser.add_argument(
        "--metrics",
        action="store_true",
        help="every service serves Prometheus /metrics on a free loopback port (listed when up; "
        "names in docs/metrics.md)",
    )
    parser.add_argument(
        "--observability",
        action="store_true",
        help="also start a local Prometheus (Debian's, `make prometheus`) scraping every service "
        "each 5 s, with the chart's alert rules (implies --metrics)",
    )
    parser.add_argument(
        "--prometheus-port",
        type=int,
        default=PROMETHEUS_PORT,
        help=f"HTTP port of that Prometheus (default {PROMETHEUS_PORT}; 0: a free one)",
    )
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
    ports = (
        ("--nats-port", options.nats_port),
        ("--monitor-port", options.monitor_port),
        ("--http-port", options.http_port),
        ("--smtp-port", options.smtp_port),
        ("--grpc-base-port", options.grpc_base_port),
        ("--prometheus-port", options.prometheus_port),
    )
    for name, port in ports:
        if not 0 <= port <= 65000:
            raise SystemExit(f"ccctl up: {name} must be a port number (or 0 for a free one), got {port}")
    try:
        plan = LaunchPlan(
            data_dir=Path(options.data_dir).resolve(),
            regions=regions,
            examples_dir=Path(options.examples),
            nats_port=options.nats_port,
            nats_monitor_port=options.monitor_port,
            grpc_base_port=options.grpc_base_port,
            gateway_http_port=options.http_port,
            gateway_smtp_port=options.smtp_port,
            replicas=parse_replicas(options.replicas),
            replica_cap=options.replica_cap,
            metrics=options.metrics,
            observability=options.observability,
            prometheus_port=options.prometheus_port,
        )
    except LaunchError as error:
        raise SystemExit(f"ccctl up: --{error}") from None
    return run(plan)
