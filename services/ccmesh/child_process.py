"""Processes that a platform process starts end when it ends, however it ends.

Its children (services, NATS, the sandbox, Prometheus) run in sessions of their own, so that a
Ctrl-C reaches their owner only, which stops them in order: services drained first, NATS last.
A session of its own also means that nothing stops them when the owner is killed outright
(SIGKILL, the OOM killer): they would run on, holding their ports and the data directory, and
the next `make run` would meet them. On Linux the kernel sends such a child SIGTERM when its
owner dies (`PR_SET_PDEATHSIG`), and each one stops on SIGTERM as after a Ctrl-C.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1


def stop_with_owner() -> Callable[[], None] | None:
    """A `preexec_fn` for `subprocess.Popen`: the child is sent SIGTERM when this process dies.

    None where that cannot be arranged: off Linux, and when a thread other than the main one
    starts the child, because the kernel sends the signal when the starting *thread* ends, which
    may be long before the process does (a thread pool's worker)."""
    if not sys.platform.startswith("linux") or threading.current_thread() is not threading.main_thread():
        return None
    owner = os.getpid()
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    term = int(signal.SIGTERM)

    def arrange() -> None:
        # Runs in the child between fork and exec: no imports, no locks.
        prctl(_PR_SET_PDEATHSIG, term)
        if os.getppid() != owner:  # the owner died before the line above: nobody would tell us
            os.kill(os.getpid(), term)

    return arrange
