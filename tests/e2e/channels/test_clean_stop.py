"""Ctrl-C on `ccctl up` with people connected: their sockets hear 1001 and nothing errs.

`ccctl up` runs as a person runs it (its own process, its status block on stdout); an agent is
logged in to the workspace and a customer is in the web chat. SIGINT, as Ctrl-C sends it:
both sockets are closed by the server with 1001 (going away, so browsers reconnect), `ccctl
up` exits 0 saying nothing is left running, and no service logged an error while draining.
"""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ccctl.launcher import auth_secret
from ccmesh.natsserver import free_port
from tests.e2e.harness import EXAMPLES, START_SECONDS, RunningRegion, WsClient

pytestmark = pytest.mark.timeout(300)

#: Log lines that would mean the drain went wrong (a traceback's first line, an error record).
_TROUBLE = re.compile(r"\b(ERROR|CRITICAL)\b|Traceback \(most recent call last\)")


async def read_until_up(process: asyncio.subprocess.Process) -> list[str]:
    """stdout lines up to the end of the status block ("Ctrl-C stops everything.")."""
    assert process.stdout is not None
    lines: list[str] = []
    async with asyncio.timeout(START_SECONDS):
        while True:
            raw = await process.stdout.readline()
            if not raw:
                raise AssertionError("ccctl up ended before it was up:\n" + "\n".join(lines))
            lines.append(raw.decode().rstrip("\n"))
            if lines[-1].startswith("Ctrl-C stops everything"):
                return lines


async def test_sigint_closes_agent_and_chat_sockets_with_1001_and_logs_no_errors(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    secret = auth_secret(data_dir)
    http_port = free_port()
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "ccctl"),
        "up",
        "--data-dir",
        str(data_dir),
        "--examples",
        str(EXAMPLES),
        "--nats-port",
        str(free_port()),
        "--monitor-port",
        str(free_port()),
        "--http-port",
        str(http_port),
        "--smtp-port",
        "0",
        "--grpc-base-port",
        "0",
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        status = await read_until_up(process)
        assert status[0] == "contact center platform is up", status
        # Only what is needed to reach the gateway: a RunningRegion view of this process.
        region = _view(data_dir, secret, http_port)
        async with region.http() as http:
            agent = await region.agent(http, "alice")
            customer = await region.chat(http, visitor="clean-stop-1")
            await customer.send(type="message", text="still there?", id="m1")
            await agent.expect("offer", seconds=30)

            process.send_signal(signal.SIGINT)
            codes = await asyncio.gather(_close_code(agent), _close_code(customer))
        assert list(codes) == [1001, 1001]
        async with asyncio.timeout(60):
            rest, _ = await process.communicate()
        assert process.returncode == 0
        said = rest.decode()
        assert "stopped; nothing left running." in said, said
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    for log in sorted((data_dir / "logs").glob("eu-*.log")):
        text = log.read_text(errors="replace")
        stopping = text.find("stopping: draining in-flight work")
        assert stopping >= 0, f"{log.name} never started draining"
        trouble = [line for line in text[stopping:].splitlines() if _TROUBLE.search(line)]
        assert trouble == [], f"{log.name} logged during drain:\n" + "\n".join(trouble)


async def _close_code(client: WsClient) -> int | None:
    # The bound only stops a hung test; the contract is the code.
    return await client.close_code(seconds=30)


def _view(data_dir: Path, secret: str, http_port: int) -> RunningRegion:
    from ccctl.launcher import LaunchPlan, Platform

    plan = LaunchPlan(data_dir=data_dir, regions=["eu"], examples_dir=EXAMPLES, gateway_http_port=http_port)
    return RunningRegion(Platform(plan), secret)
