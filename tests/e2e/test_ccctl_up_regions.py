"""`ccctl up` for several regions and replicas, as a person runs it (free ports: all given as 0).

Every region's gateway serves HTTP on the port the status block prints, the routing service runs
twice per region (asked on the command line, or by the region's ContactCenter), and Ctrl-C stops
everything.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import nats

from ccctl.discovery_client import ServiceRow, discover, summarize
from tests.e2e.scenarios._regions import examples_with

REPO = Path(__file__).resolve().parents[2]
READY = "Ctrl-C stops everything."


async def _serving(gateways: list[str], nats_url: str, regions: list[str] | None = None) -> list[ServiceRow]:
    """Each gateway answers /healthz; the services' rows as `ccctl status` shows them."""
    async with aiohttp.ClientSession() as http:
        for base in gateways:
            async with http.get(f"{base}/healthz") as response:
                assert response.status == 200
    nc = await nats.connect(nats_url)
    try:
        return summarize(await discover(nc, 0.5), regions or ["eu", "us"])
    finally:
        await nc.close()


def _read_status_block(process: subprocess.Popen[str], seconds: float = 180.0) -> list[str]:
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if line.strip() == READY:
            return lines
    raise AssertionError("ccctl up printed no status block:\n" + "\n".join(lines))


def _up(tmp_path: Path, *options: str) -> subprocess.Popen[str]:
    command = [
        sys.executable,
        "-m",
        "ccctl.main",
        "up",
        *options,
        "--data-dir",
        str(tmp_path / "data"),
        *("--nats-port", "0", "--monitor-port", "0", "--http-port", "0"),
        *("--smtp-port", "0", "--grpc-base-port", "0"),
    ]
    return subprocess.Popen(
        command,
        cwd=REPO,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _stopped(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=90)
    assert process.returncode == 0, output
    assert "stopped; nothing left running." in output


def test_ccctl_up_runs_two_regions_with_two_routing_replicas(tmp_path: Path) -> None:
    process = _up(tmp_path, "--regions", "eu,us", "--replicas", "routing=2")
    try:
        block = "\n".join(_read_status_block(process))
        gateways = dict(re.findall(r"gateway (eu|us)\s+(http://127\.0\.0\.1:\d+)", block))
        assert set(gateways) == {"eu", "us"}, block
        assert gateways["eu"] != gateways["us"]
        nats_url = re.search(r"NATS\s+(nats://127\.0\.0\.1:\d+)", block)
        assert nats_url is not None, block
        assert len(re.findall(r"routing#2", block)) == 2, block  # a second routing in each region
        rows = asyncio.run(_serving(list(gateways.values()), nats_url.group(1)))
        routing = {row.region: row.instances for row in rows if row.service == "routing"}
        assert routing == {"eu": 2, "us": 2}
        assert all(row.status == "SERVING" for row in rows)
    finally:
        _stopped(process)


def test_ccctl_up_runs_the_replicas_the_contact_center_asks(tmp_path: Path) -> None:
    # The region asks for two routing instances; one of everything else keeps the run light.
    services = {name: {"replicas": 1} for name in ("identity", "gateway", "ai", "integration")}
    examples = examples_with(
        tmp_path, contact_centers={"eu": {"services": {**services, "routing": {"replicas": 2}}}}
    )
    process = _up(tmp_path, "--regions", "eu", "--examples", str(examples), "--replica-cap", "2")
    try:
        block = "\n".join(_read_status_block(process))
        assert len(re.findall(r"routing#2", block)) == 1, block
        assert "replicas eu" not in block, block  # nothing asked beyond the cap
        gateway = re.search(r"gateway eu\s+(http://127\.0\.0\.1:\d+)", block)
        nats_url = re.search(r"NATS\s+(nats://127\.0\.0\.1:\d+)", block)
        assert gateway is not None and nats_url is not None, block
        rows = asyncio.run(_serving([gateway.group(1)], nats_url.group(1), ["eu"]))
        assert {row.service: row.instances for row in rows} == {
            "identity": 1,
            "routing": 2,
            "gateway": 1,
            "ai": 1,
            "integration": 1,
        }
    finally:
        _stopped(process)
