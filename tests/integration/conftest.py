"""Fixtures of the integration tier, declared once for every test below this folder.

`platform` (`_platform.py`) runs the services in-process against the test's own nats-server;
`spans` (`_tracing.py`) collects the spans the test makes. A test names them as arguments and
imports nothing for them.
"""

from __future__ import annotations

from _platform import platform
from _tracing import spans

__all__ = ["platform", "spans"]
