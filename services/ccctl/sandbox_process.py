"""The provider sandbox as one more process of `ccctl up` (`python -m ccsandbox`).

It starts before the configuration is applied: the example ChannelEndpoints name the sandbox's
usual address (`EXAMPLE_URL` as the provider API and a partner's callback URL, SMTP relay
127.0.0.1:`SMTP_PORT`), and when it listens elsewhere
(tests start several platforms on free ports) `at_sandbox` points those endpoints at it, so every
agent reply under `make run` arrives there. It stops after the services.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import orjson

from ccmesh.child_process import stopped_with_owner
from ccmesh.configplane.models import ChannelEndpoint, IntegrationConnector

HTTP_PORT = 8090
SMTP_PORT = 2526
SANDBOX_HOST = "127.0.0.1"
#: The sandbox address written in examples/channels/*.yaml.
EXAMPLE_URL = f"http://{SANDBOX_HOST}:{HTTP_PORT}"
READY_SECONDS = 15.0


class SandboxStartError(RuntimeError):
    pass


@dataclass
class RunningSandbox:
    process: subprocess.Popen[bytes]
    url: str
    smtp_port: int
    log_file: Path


def start_sandbox(data_dir: Path, http_port: int, smtp_port: int) -> RunningSandbox:
    """Start the sandbox (0: free ports) and wait for its ready line."""
    log_file = data_dir / "logs" / "sandbox.log"
    env = {
        **os.environ,
        "CC_SANDBOX_HOST": SANDBOX_HOST,
        "CC_SANDBOX_HTTP_PORT": str(http_port),
        "CC_SANDBOX_SMTP_PORT": str(smtp_port),
        # A person's `make run` hears calls in real time; tests set a smaller scale themselves.
        "CC_SANDBOX_PAUSE_SCALE": os.environ.get("CC_SANDBOX_PAUSE_SCALE", "1.0"),
    }
    with log_file.open("ab") as log:
        process = subprocess.Popen(
            stopped_with_owner([sys.executable, "-m", "ccsandbox"]),
            env=env,
            stdout=subprocess.PIPE,
            stderr=log,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    assert process.stdout is not None
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        readable, _, _ = select.select([process.stdout], [], [], 0.2)
        if readable:
            line = process.stdout.readline()
            if line:
                ready = orjson.loads(line)
                return RunningSandbox(process, str(ready["sandbox"]), int(ready["smtp_port"]), log_file)
        if process.poll() is not None:
            break
    stop_sandbox(RunningSandbox(process, "", 0, log_file))
    raise SandboxStartError(
        f"the provider sandbox did not start (see {log_file}; is port {http_port} or {smtp_port} in use?)"
    )


def stop_sandbox(sandbox: RunningSandbox, grace: float = 5.0) -> None:
    if sandbox.process.poll() is None:
        sandbox.process.send_signal(signal.SIGTERM)
        try:
            sandbox.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            sandbox.process.kill()
            sandbox.process.wait()
    if sandbox.process.stdout is not None:
        sandbox.process.stdout.close()


def at_sandbox(endpoint: ChannelEndpoint, sandbox: RunningSandbox | None) -> ChannelEndpoint:
    """The endpoint with its provider addresses moved from the examples' sandbox to the running one."""
    if sandbox is None:
        return endpoint
    spec = endpoint.spec
    changes: dict[str, object] = {}
    if spec.provider_api_url.rstrip("/") == EXAMPLE_URL and sandbox.url != EXAMPLE_URL:
        changes["provider_api_url"] = sandbox.url
    partner = spec.generic
    if (
        partner is not None
        and partner.callback_url.startswith(EXAMPLE_URL + "/")
        and sandbox.url != EXAMPLE_URL
    ):
        changes["generic"] = partner.model_copy(
            update={"callback_url": sandbox.url + partner.callback_url.removeprefix(EXAMPLE_URL)}
        )
    relay = spec.smtp
    if (
        relay is not None
        and (relay.host, relay.port) == (SANDBOX_HOST, SMTP_PORT)
        and sandbox.smtp_port != SMTP_PORT
    ):
        changes["smtp"] = relay.model_copy(update={"port": sandbox.smtp_port})
    if not changes:
        return endpoint
    return endpoint.model_copy(update={"spec": spec.model_copy(update=changes)})


def connector_at_sandbox(
    connector: IntegrationConnector, sandbox: RunningSandbox | None
) -> IntegrationConnector:
    """The connector with a base URL on the examples' sandbox moved to the running one."""
    spec = connector.spec
    if sandbox is None or sandbox.url == EXAMPLE_URL or not spec.base_url.startswith(EXAMPLE_URL + "/"):
        return connector
    moved = sandbox.url + spec.base_url.removeprefix(EXAMPLE_URL)
    return connector.model_copy(update={"spec": spec.model_copy(update={"base_url": moved})})
