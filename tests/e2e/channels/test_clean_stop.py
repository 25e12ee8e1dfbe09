"""Ctrl-C on `ccctl up` with people connected: their sockets hear 1001 and nothing errs; a closed
terminal stops everything as Ctrl-C does; a launcher killed outright leaves nothing running.

`ccctl up` runs as a person runs it (its own process, its status block on stdout); an agent is
logged in to the workspace and a customer is in the web chat. SIGINT, as Ctrl-C sends it:
both sockets are closed by the server with 1001 (going away, so browsers reconnect), `ccctl
up` exits 0 saying nothing is left running, and no service logged an error while draining.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bench.platform.meters import children_of
from ccctl.launcher import auth_secret
from ccmesh.natsserver import free_port
from tests.e2e.harness import EXAMPLES, START_SECONDS, RunningRegion, WsClient, eventually

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


async def start_up(data_dir: Path, http_port: int) -> asyncio.subprocess.Process:
    """`ccctl up` in a process of its own, as a person starts it (its status block on stdout)."""
    return await asyncio.create_subprocess_exec(
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


async def test_sigint_closes_agent_and_chat_sockets_with_1001_and_logs_no_errors(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    secret = auth_secret(data_dir)
    http_port = free_port()
    process = await start_up(data_dir, http_port)
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


async def test_a_closed_terminal_stops_everything_as_ctrl_c_does(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    process = await start_up(data_dir, free_port())
    try:
        await read_until_up(process)
        started = children_of(process.pid)
        assert len(started) >= 6, started  # NATS, the sandbox and the five services
        process.send_signal(signal.SIGHUP)
        async with asyncio.timeout(60):
            rest, _ = await process.communicate()
        assert process.returncode == 0
        assert "stopped; nothing left running." in rest.decode()
        assert [pid for pid in started if alive(pid)] == []
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_a_killed_launcher_leaves_nothing_running(tmp_path: Path) -> None:
    # SIGKILL (or the OOM killer): the launcher stops nothing itself. Every process it started
    # is told by the kernel and stops, so no NATS or service is left holding ports and data.
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    process = await start_up(data_dir, free_port())
    started: list[int] = []
    try:
        await read_until_up(process)
        started = children_of(process.pid)
        assert len(started) >= 6, started
        process.kill()
        await process.wait()

        async def all_stopped() -> bool | None:
            return True if not any(alive(pid) for pid in started) else None

        # A bound against hanging (each service drains for a few seconds), not a timing check.
        with contextlib.suppress(AssertionError):
            await eventually(all_stopped, seconds=60)
        assert [command_of(pid) for pid in started if alive(pid)] == []
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        for pid in started:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def command_of(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return f"{pid} (gone)"


def alive(pid: int) -> bool:
    state, _ = _stat(pid)
    return state not in ("", "Z", "X")  # gone, or a zombie nobody reaped yet: not running


def _stat(pid: int) -> tuple[str, int]:
    """(state, parent pid) of `pid`; ("", 0) when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return "", 0
    fields = raw[raw.rindex(")") + 2 :].split()
    return fields[0], int(fields[1])
