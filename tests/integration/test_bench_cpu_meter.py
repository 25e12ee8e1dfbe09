"""The platform bench's CPU meter counts what a service's worker processes burn (ai runs its
inference in a pool of them): a parent that only waits on a busy child costs the child's CPU,
and still does once that child has ended."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from bench.platform.meters import children_of, cpu_seconds

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads Linux's /proc")

BUSY_CHILD = textwrap.dedent(
    """
    import subprocess, sys
    child = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    print(child.pid, flush=True)
    sys.stdin.readline()
    child.kill()
    child.wait()
    print("ended", flush=True)
    sys.stdin.read()
    """
)


def test_a_waiting_parent_is_charged_its_busy_childs_cpu() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", BUSY_CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    try:
        assert children_of(parent.pid) == [child]
        deadline = time.monotonic() + 30
        while cpu_seconds(child) < 0.5 and time.monotonic() < deadline:
            time.sleep(0.05)
        own, with_workers = cpu_seconds(parent.pid), cpu_seconds(parent.pid, descendants=True)
        # The parent itself only waits on its stdin; with its child it costs at least what the
        # child burned so far.
        assert own < 0.5 <= with_workers
        assert with_workers >= own + cpu_seconds(child) * 0.9
        # The child ends and is waited for (a worker replaced): what it burned stays counted.
        assert parent.stdin is not None
        parent.stdin.write("\n")
        parent.stdin.flush()
        assert parent.stdout.readline().strip() == "ended"
        assert children_of(parent.pid) == []
        assert cpu_seconds(parent.pid, descendants=True) >= with_workers
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)
        parent.kill()
        parent.wait()
    assert children_of(parent.pid) == []
    assert cpu_seconds(parent.pid, descendants=True) == 0.0
