"""A child started through `stopped_with_owner` is the command itself, with the signals a program
expects, and it is stopped when its owner dies outright (the bench's load generator too)."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from ccmesh.child_process import stopped_with_owner

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the death signal is Linux's")


def _status(text: str, field: str) -> str:
    return next(line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith(f"{field}:"))


def test_the_child_is_the_command_with_the_signals_it_expects() -> None:
    finished = subprocess.run(
        stopped_with_owner(["cat", "/proc/self/status"]), capture_output=True, check=True
    )
    status = finished.stdout.decode()
    assert _status(status, "Name") == "cat"
    ignored = int(_status(status, "SigIgn"), 16)
    # The wrapper is Python, which ignores these at start-up; the command must not inherit that.
    for name in ("SIGPIPE", "SIGXFSZ"):
        assert not ignored & (1 << (int(getattr(signal, name)) - 1)), f"{name} left ignored"


def test_the_child_is_stopped_when_its_owner_is_killed(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    owner_code = textwrap.dedent(
        f"""
        import subprocess, sys, time
        from ccmesh.child_process import stopped_with_owner
        child = subprocess.Popen(stopped_with_owner(["sleep", "120"]), start_new_session=True)
        open({str(pid_file)!r}, "w").write(str(child.pid))
        time.sleep(120)
        """
    )
    owner = subprocess.Popen([sys.executable, "-c", owner_code])
    try:
        deadline = time.monotonic() + 20
        while not pid_file.exists() or not pid_file.read_text():
            assert time.monotonic() < deadline, "the owner never started its child"
            time.sleep(0.05)
        child = int(pid_file.read_text())
        while b"sleep" not in Path(f"/proc/{child}/cmdline").read_bytes():
            assert time.monotonic() < deadline, "the child never became the command"
            time.sleep(0.05)
        _kill_and_outlive(owner, child, deadline, "the child outlived its owner")
    finally:
        if owner.poll() is None:
            owner.kill()


def test_a_killed_bench_takes_its_load_generator(tmp_path: Path) -> None:
    pid_file = tmp_path / "loadgen.pid"
    # Killed two minutes before its step ends (nothing is served at the URL: each send fails).
    owner_code = textwrap.dedent(
        f"""
        import asyncio
        from bench.platform.loadgen import LoadProcess

        async def main():
            load = await LoadProcess.start("http://127.0.0.1:9/", "secret", "+49171")
            step = asyncio.create_task(load.step(1, 2.0, 120.0))
            await asyncio.sleep(1.0)
            open({str(pid_file)!r}, "w").write(str(load.process.pid))
            await step

        asyncio.run(main())
        """
    )
    owner = subprocess.Popen([sys.executable, "-c", owner_code], cwd=Path(__file__).parents[2])
    try:
        deadline = time.monotonic() + 30
        while not pid_file.exists() or not pid_file.read_text():
            assert owner.poll() is None, f"the bench ended with {owner.returncode}"
            assert time.monotonic() < deadline, "the bench never started its load generator"
            time.sleep(0.05)
        generator = int(pid_file.read_text())
        assert _alive(generator)
        _kill_and_outlive(owner, generator, deadline, "the load generator outlived the bench")
    finally:
        if owner.poll() is None:
            owner.kill()


def _kill_and_outlive(owner: subprocess.Popen[bytes], child: int, deadline: float, failure: str) -> None:
    """SIGKILL `owner`, then wait until `child` is gone (asserting `failure` past `deadline`)."""
    owner.kill()
    owner.wait()
    while _alive(child):
        assert time.monotonic() < deadline, failure
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return raw[raw.rindex(")") + 2 :].split()[0] not in ("Z", "X")
