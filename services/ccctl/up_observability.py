"""`ccctl up --observability`: a local Prometheus that scrapes every service process.

Each service of the local platform serves `/metrics` on a loopback port of its own (the plan's
`metrics`); this starts Debian's `prometheus` (installed by `tools/install_prometheus.sh`,
`make prometheus`) with one scrape job per service, every target listed, and the chart's SLO
alert rules loaded, so a newcomer sees the metrics of `docs/metrics.md` and the alerts' state
at http://127.0.0.1:9090 without a cluster. Its data lives under `<data-dir>/prometheus/`.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import yaml

from ccmesh.child_process import stopped_with_owner

PROMETHEUS_PORT = 9090
SCRAPE_SECONDS = 5.0
#: The chart's alert rules, when ccctl runs from a checkout (an installed ccctl has no chart).
ALERT_RULES = (
    Path(__file__).resolve().parents[2] / "charts" / "contactcenter" / "alerts" / "contactcenter.rules.yaml"
)
INSTALL_HINT = "`make prometheus` (tools/install_prometheus.sh) installs Debian's package"


class ObservabilityError(RuntimeError):
    """The local Prometheus cannot be started; the message says why and what to do."""


class ScrapedService(Protocol):
    """What a scrape job needs of a running service process."""

    @property
    def name(self) -> str: ...

    @property
    def metrics_port(self) -> int | None: ...


@dataclass
class RunningPrometheus:
    process: subprocess.Popen[bytes]
    port: int
    log_file: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def scrape_config(
    services: Iterable[ScrapedService],
    scrape_seconds: float = SCRAPE_SECONDS,
    rule_files: Sequence[Path] = (),
) -> dict[str, Any]:
    """Prometheus's configuration: one job per service name, each of its processes a target."""
    jobs: dict[str, list[str]] = {}
    for service in services:
        if not service.metrics_port:
            raise ObservabilityError(f"{service.name} was started without a /metrics port")
        jobs.setdefault(service.name, []).append(f"127.0.0.1:{service.metrics_port}")
    interval = f"{max(1, round(scrape_seconds))}s"
    return {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": [str(path) for path in rule_files],
        "scrape_configs": [
            {"job_name": name, "static_configs": [{"targets": targets}]} for name, targets in jobs.items()
        ],
    }


def prometheus_binary() -> str:
    found = shutil.which("prometheus")
    if found is None:
        raise ObservabilityError(f"--observability needs a prometheus server on the PATH: {INSTALL_HINT}")
    return found


def start_prometheus(
    folder: Path,
    services: Iterable[ScrapedService],
    port: int,
    scrape_seconds: float = SCRAPE_SECONDS,
    ready_seconds: float = 30.0,
) -> RunningPrometheus:
    """Start Prometheus on 127.0.0.1:`port` scraping `services`; returns once it is ready."""
    binary = prometheus_binary()
    folder.mkdir(parents=True, exist_ok=True)
    rules = [ALERT_RULES] if ALERT_RULES.exists() else []
    config = folder / "prometheus.yml"
    config.write_text(yaml.safe_dump(scrape_config(services, scrape_seconds, rules), sort_keys=False))
    log_file = folder / "prometheus.log"
    with log_file.open("ab") as log:
        process = subprocess.Popen(
            stopped_with_owner(
                [
                    binary,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={folder / 'data'}",
                    f"--web.listen-address=127.0.0.1:{port}",
                    "--storage.tsdb.retention.time=1d",
                ]
            ),
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
        )
    running = RunningPrometheus(process, port, log_file)
    try:
        _wait_ready(running, ready_seconds)
    except ObservabilityError:
        stop_prometheus(running)
        raise
    return running


def _wait_ready(running: RunningPrometheus, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while True:
        if running.process.poll() is not None:
            raise ObservabilityError(
                f"prometheus exited with {running.process.returncode}; see {running.log_file}"
            )
        try:
            ready = f"{running.url}/-/ready"  # http on loopback, built here
            with urllib.request.urlopen(ready, timeout=1) as reply:  # noqa: S310
                if reply.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            raise ObservabilityError(f"prometheus not ready after {seconds:.0f}s; see {running.log_file}")
        time.sleep(0.2)


def stop_prometheus(running: RunningPrometheus, grace: float = 10.0) -> None:
    if running.process.poll() is None:
        running.process.terminate()
    try:
        running.process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        running.process.kill()
        running.process.wait()
