"""`python -m ccsandbox`: run the provider sandbox until SIGTERM or Ctrl-C.

Settings from the environment: CC_SANDBOX_HOST (127.0.0.1), CC_SANDBOX_HTTP_PORT (8090; 0: a
free port), CC_SANDBOX_SMTP_PORT (2526; 0: a free port, -1: none), CC_SANDBOX_PAUSE_SCALE (1.0).
Once listening it prints one JSON line: `{"sandbox": "<base url>", "smtp_port": <port>}`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys

import orjson

from ccsandbox.server import Sandbox, SandboxSettings

DEFAULT_HTTP_PORT = 8090
DEFAULT_SMTP_PORT = 2526


class SettingsError(ValueError):
    pass


def settings_from(env: dict[str, str]) -> SandboxSettings:
    def number(name: str, default: float, low: float, high: float) -> float:
        raw = env.get(name, "")
        try:
            value = float(raw) if raw else default
        except ValueError:
            raise SettingsError(f"{name}: {raw!r} is not a number") from None
        if not low <= value <= high:
            raise SettingsError(f"{name}: {raw} is outside {low:g}..{high:g}")
        return value

    return SandboxSettings(
        host=env.get("CC_SANDBOX_HOST", "127.0.0.1"),
        http_port=int(number("CC_SANDBOX_HTTP_PORT", DEFAULT_HTTP_PORT, 0, 65535)),
        smtp_port=int(number("CC_SANDBOX_SMTP_PORT", DEFAULT_SMTP_PORT, -1, 65535)),
        pause_scale=number("CC_SANDBOX_PAUSE_SCALE", 1.0, 0.0, 10.0),
    )


async def serve(settings: SandboxSettings) -> None:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    async with Sandbox(settings) as sandbox:
        print(
            orjson.dumps({"sandbox": sandbox.base_url, "smtp_port": sandbox.smtp_port}).decode(), flush=True
        )
        await stopping.wait()


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = settings_from(dict(os.environ))
    except SettingsError as error:
        print(f"ccsandbox: {error}", file=sys.stderr)
        return 2
    try:
        asyncio.run(serve(settings))
    except OSError as error:
        print(f"ccsandbox: cannot listen: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
