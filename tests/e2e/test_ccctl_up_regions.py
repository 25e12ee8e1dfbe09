"""`ccctl up` for several regions and replicas, as a person runs it (free ports: all given as 0).

Every region's gateway serves HTTP on the port the status block prints, the routing service runs
twice per region, and Ctrl-C stops everything.
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

REPO = Path(__file__).resolve().parents[2]
READY = "Ctrl-C stops everything."


async def _serving(gateways: list[str], nats_url: str) -> list[ServiceRow]:
    """Each gateway answers /healthz; the services' rows as `ccctl status` shows them."""
    async with aiohttp.ClientSession() as http:
        for base in gateways:
            async with http.get(f"{base}/healthz") as response:
                assert response.status == 200
    nc = await nats.connect(nats_url)
    try:
        return summarize(await discover(nc, 0.5), ["eu", "us"])
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


def test_ccctl_up_runs_two_regions_with_two_routing_replicas(tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "ccctl.main",
        "up",
        "--regions",
        "eu,us",
        "--replicas",
        "routing=2",
        "--data-dir",
        str(tmp_path / "data"),
        *("--nats-port", "0", "--monitor-port", "0", "--http-port", "0"),
        *("--smtp-port", "0", "--grpc-base-port", "0"),
    ]
    process = subprocess.Popen(
        command,
        cwd=REPO,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
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
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=90)
    assert process.returncode == 0, output
    assert "stopped; nothing left running." in output
