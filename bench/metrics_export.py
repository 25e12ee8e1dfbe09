"""Metrics export on, for the benchmarks that measure its cost: the processes serve `/metrics`
and a Prometheus scrapes them every SCRAPE_SECONDS, as `ccctl up --observability` and a
cluster's PodMonitor do.

The scraper is Debian's Prometheus when it is installed (`make prometheus`), started through
the same code as `ccctl up --observability`; without it, a thread GETs every `/metrics` at the
same interval (what Prometheus does to a target), and the report says which one ran.
"""

from __future__ import annotations

import contextlib
import threading
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ccctl.up_observability import ObservabilityError, start_prometheus, stop_prometheus
from ccmesh import prometheus
from ccmesh.natsserver import free_port

SCRAPE_SECONDS = 5.0


@dataclass(frozen=True)
class Target:
    name: str
    metrics_port: int | None


def exposition_env(port: int) -> dict[str, str]:
    """The variables that make a process serve `/metrics` on 127.0.0.1:`port`."""
    return {prometheus.PORT_VARIABLE: str(port), prometheus.HOST_VARIABLE: "127.0.0.1"}


def new_target(name: str) -> tuple[Target, dict[str, str]]:
    port = free_port()
    return Target(name, port), exposition_env(port)


@contextlib.contextmanager
def scraped(targets: Sequence[Target], folder: Path, seconds: float = SCRAPE_SECONDS) -> Iterator[str]:
    """Scrape `targets` every `seconds` while inside; yields what scrapes ("prometheus" or
    "http_get")."""
    try:
        running = start_prometheus(folder, targets, free_port(), seconds)
    except ObservabilityError:
        running = None
    if running is not None:
        try:
            yield "prometheus"
        finally:
            stop_prometheus(running)
        return
    stopping = threading.Event()

    def scrape() -> None:
        while not stopping.wait(seconds):
            for target in targets:
                url = f"http://127.0.0.1:{target.metrics_port}/metrics"  # loopback, built here
                with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=5) as reply:
                    reply.read()

    thread = threading.Thread(target=scrape, name="bench-scraper", daemon=True)
    thread.start()
    try:
        yield "http_get"
    finally:
        stopping.set()
        thread.join(timeout=10)
