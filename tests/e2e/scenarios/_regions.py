"""Helpers for scenarios that run more than one region or their own example configuration.

`examples_with(tmp, ...)` copies the shipped examples and adds documents and workspaces of the
scenario's own; `start_region(..., examples_dir=...)` (tests/e2e/harness.py) then starts the
platform as `ccctl up --regions eu,us` would. The harness's customer and agent helpers reach the
first region's gateway; `agent_in` and `chat_in` reach another region's.
"""

from __future__ import annotations

import datetime as dt
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import aiohttp
import nats
import nats.js.errors
import orjson
import yaml
from nats.js.api import StreamInfo

from contactcenter.routing.v1 import routing_pb2
from tests.e2e.harness import EXAMPLES, RunningRegion, WsClient


def examples_with(
    root: Path,
    *,
    contact_centers: dict[str, dict[str, Any]] | None = None,
    workspaces: dict[str, dict[str, Any]] | None = None,
    channels: dict[str, list[dict[str, Any]]] | None = None,
    endpoint_changes: dict[str, dict[str, Any]] | None = None,
) -> Path:
    """A copy of examples/ with `spec` changes merged into `<region>.yaml`, workspaces
    (examples/workspace/<region>.yaml) replaced, ChannelEndpoints added per region and the
    `spec` of shipped endpoints changed by name (e.g. a provider API URL of the test's own)."""
    target = root / "examples"
    shutil.copytree(EXAMPLES, target)
    for region, changes in (contact_centers or {}).items():
        path = target / f"{region}.yaml"
        document = yaml.safe_load(path.read_text())
        document["spec"].update(changes)
        path.write_text(yaml.safe_dump(document, sort_keys=False))
    for region, workspace in (workspaces or {}).items():
        (target / "workspace" / f"{region}.yaml").write_text(yaml.safe_dump(workspace, sort_keys=False))
    for path in (target / "channels").glob("*.yaml"):
        documents = list(yaml.safe_load_all(path.read_text()))
        for document in documents:
            name = (document or {}).get("metadata", {}).get("name")
            if name in (endpoint_changes or {}):
                document["spec"].update((endpoint_changes or {})[name])
        path.write_text(yaml.safe_dump_all(documents, sort_keys=False))
    for region, endpoints in (channels or {}).items():
        path = target / "channels" / f"{region}.yaml"
        existing = path.read_text() if path.exists() else ""
        added = "".join(f"---\n{yaml.safe_dump(e, sort_keys=False)}" for e in endpoints)
        path.write_text(existing + ("\n" if existing and not existing.endswith("\n") else "") + added)
    return target


class FakeTwilio:
    """Twilio's REST API as the gateway reaches it: the SMS a customer's phone would receive and
    the calls it would ring with. Point an endpoint's `providerApiUrl` at `url`. It runs on its
    own thread, so platforms started on another event loop (module fixtures) can reach it."""

    def __init__(self) -> None:
        self.messages: list[dict[str, str]] = []
        self.calls: list[dict[str, str]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                kind = self.path.rsplit("/", 1)[-1]
                found = fake.messages if kind == "Messages.json" else fake.calls
                found.append(form)
                prefix = "SM" if kind == "Messages.json" else "CA"
                body = orjson.dumps({"sid": f"{prefix}{len(found):032d}", "status": "queued"})
                self.send_response(201)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeTwilio:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def sms_to(self, number: str) -> list[str]:
        return [m.get("Body", "") for m in list(self.messages) if m.get("To") == number]

    def calls_to(self, number: str) -> list[dict[str, str]]:
        return [c for c in list(self.calls) if c.get("To") == number]


def ws_base(region: RunningRegion, name: str) -> str:
    return region.platform.http_url(name).replace("http://", "ws://")


async def agent_in(
    region: RunningRegion, http: aiohttp.ClientSession, name: str, agent_id: str, **claims: Any
) -> WsClient:
    """An agent logged in to `name`'s workspace socket and set available."""
    ws = await http.ws_connect(f"{ws_base(region, name)}/v1/agent/ws")
    client = WsClient(ws)
    await client.send(type="auth", token=region.token("agent", agent_id, **claims))
    await client.expect("ready")
    await client.send(type="set_state", id="available", state="available")
    await client.expect("state", id="available")
    return client


def closed_today(time_zone: str, closed_action: str, target_queue: str = "") -> routing_pb2.QueueHours:
    """Open every day, but closed today and tomorrow by an override (a holiday in the calendar)."""
    today = dt.datetime.now(dt.UTC).date()
    days = [today - dt.timedelta(days=1), today, today + dt.timedelta(days=1)]
    return routing_pb2.QueueHours(
        time_zone=time_zone,
        weekly=[
            routing_pb2.DayHours(day=day, windows=["00:00-23:59"])
            for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
        ],
        overrides=[routing_pb2.DayHours(day=day.isoformat(), windows=[]) for day in days],
        closed_action=closed_action,
        closed_target_queue=target_queue,
    )


async def region_store_bytes(region: RunningRegion, name: str) -> dict[str, bytes]:
    """Every message of every stream placed in region `name` (events, KV and object buckets),
    concatenated per stream: what a byte scan of that region's storage sees."""
    nc = await nats.connect(region.nats_url)
    try:
        js = nc.jetstream()
        found: dict[str, bytes] = {}
        streams: list[StreamInfo] = await js.streams_info()
        for info in streams:
            config = info.config
            tags = list(getattr(config.placement, "tags", None) or []) if config.placement else []
            if f"region:{name}" not in tags and not _named_for(config.name or "", name):
                continue
            chunks = []
            first, last = max(1, info.state.first_seq), info.state.last_seq
            for sequence in range(first, last + 1 if info.state.messages else first):
                try:
                    message = await js.get_msg(config.name or "", sequence)
                except (nats.js.errors.NotFoundError, nats.js.errors.BadRequestError):
                    continue  # a deleted or purged sequence is a gap
                chunks.append((message.subject or "").encode() + b"\n" + (message.data or b""))
                for key, value in (message.headers or {}).items():
                    chunks.append(f"{key}: {value}".encode())
            found[config.name or ""] = b"\n".join(chunks)
        return found
    finally:
        await nc.close()


def _named_for(stream: str, region: str) -> bool:
    lowered = stream.lower()
    return any(lowered.endswith(f"{sep}{region}") for sep in ("-", "_", ".")) or f"-{region}-" in lowered
