"""Processes that a platform process starts end when it ends, however it ends.

Its children (services, NATS, the sandbox, Prometheus) run in sessions of their own, so that a
Ctrl-C reaches their owner only, which stops them in order: services drained first, NATS last.
A session of its own also means that nothing stops them when the owner is killed outright
(SIGKILL, the OOM killer): they would run on, holding their ports and the data directory, and
the next `make run` would meet them. On Linux the kernel sends such a child SIGTERM when its
owner dies (`PR_SET_PDEATHSIG`), and each one stops on SIGTERM as after a Ctrl-C.

The death signal is asked for by a small interpreter that then becomes the child (exec), not by
a `preexec_fn`: that runs Python in a forked copy of the owner, and an owner with gRPC's threads
running (every service, and a test process that called one) can die there in gRPC's fork
handlers before the child's program ever starts. The setting survives the exec.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Sequence

#: Run by `sys.executable -I -S -c` with the owner's pid and the command after it: asks for
#: SIGTERM when the owner dies, gives up if the owner died first (nobody would tell us), puts
#: back the signals Python ignores at start-up (an exec keeps ignored signals ignored), and
#: becomes the command.
_BECOME_OWNED = """\
import ctypes, os, signal, sys
ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))
if os.getppid() != int(sys.argv[1]):
    sys.exit(128 + int(signal.SIGTERM))
for name in ("SIGPIPE", "SIGXFSZ"):
    signal.signal(getattr(signal, name), signal.SIG_DFL)
os.execvp(sys.argv[2], sys.argv[2:])
"""


def stopped_with_owner(command: Sequence[str]) -> list[str]:
    """`command` as `subprocess.Popen` should run it so that the child is sent SIGTERM when this
    process dies. The child's pid is the command's own (the wrapper becomes it).

    `command` unchanged where that cannot be arranged: off Linux, and when a thread other than
    the main one starts the child, because the kernel sends the signal when the starting
    *thread* ends, which may be long before the process does (a thread pool's worker)."""
    if not sys.platform.startswith("linux") or threading.current_thread() is not threading.main_thread():
        return list(command)
    return [sys.executable, "-I", "-S", "-c", _BECOME_OWNED, str(os.getpid()), *command]
