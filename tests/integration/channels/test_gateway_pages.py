"""The gateway's web pages over real HTTP: the chat page per web chat endpoint (404 naming an
unknown one), the embeddable widget, the agent and supervisor pages, their static files, and the
headers that keep injected markup from running or calling out."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from ccmesh.configplane.loader import load_file
from ccmesh.configplane.models import ChannelEndpoint
from gateway.adapters.channel_directory import ChannelDirectory
from gateway.entrypoints.pages import STATIC_DIR, page_routes

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "channels" / "eu.yaml"
pytestmark = pytest.mark.timeout(30)


def _endpoints() -> list[ChannelEndpoint]:
    documents = [sourced.document for sourced in load_file(EXAMPLE)]
    endpoints = [d for d in documents if isinstance(d, ChannelEndpoint)]
    webchat = next(e for e in endpoints if e.spec.channel == "webchat")
    # A tenant-chosen title with markup in it must come out as text.
    hostile = webchat.model_copy(
        update={
            "metadata": webchat.metadata.model_copy(update={"name": "acme-hostile"}),
            "spec": webchat.spec.model_copy(
                update={
                    "webchat": webchat.spec.webchat.model_copy(
                        update={"title": '<img src=x onerror="alert(1)">'}
                    )
                }  # type: ignore[union-attr]
            ),
        }
    )
    disabled = webchat.model_copy(
        update={
            "metadata": webchat.metadata.model_copy(update={"name": "acme-closed"}),
            "spec": webchat.spec.model_copy(update={"enabled": False}),
        }
    )
    return [*endpoints, hostile, disabled]


@pytest.fixture
async def base_url() -> AsyncIterator[str]:
    directory = ChannelDirectory("eu")
    directory.refresh(sorted(_endpoints(), key=lambda e: e.metadata.name))
    app = web.Application()
    page_routes(directory)(app)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def _get(url: str) -> tuple[int, dict[str, str], str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, dict(response.headers), await response.text()


async def test_chat_page_hosts_the_widget_for_its_endpoint(base_url: str) -> None:
    status, headers, body = await _get(f"{base_url}/chat/acme-webchat")
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    assert '<script src="/widget.js" data-endpoint="acme-webchat"' in body
    assert "<title>ACME support</title>" in body
    policy = headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "default-src 'none'" in policy
    assert headers["X-Content-Type-Options"] == "nosniff"


async def test_chat_page_escapes_the_configured_title(base_url: str) -> None:
    status, _, body = await _get(f"{base_url}/chat/acme-hostile")
    assert status == 200
    assert "<img" not in body
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in body


@pytest.mark.parametrize("name", ["nobody-here", "acme-closed", "acme-uk-sms"])
async def test_chat_page_for_unknown_disabled_or_non_webchat_endpoint_is_404(
    base_url: str, name: str
) -> None:
    status, _, body = await _get(f"{base_url}/chat/{name}")
    assert status == 404
    assert name in body


@pytest.mark.parametrize(
    ("path", "content_type", "marker"),
    [
        ("/widget.js", "text/javascript", "data-endpoint"),
        ("/agent", "text/html", 'id="login-form"'),
        ("/supervisor", "text/html", 'id="queue-rows"'),
        ("/reports", "text/html", 'id="volume-chart"'),
        ("/static/reports.js", "text/javascript", "level-point"),
        ("/static/agent.js", "text/javascript", "WorkspaceSocket"),
        ("/static/widget.css", "text/css", ".launcher"),
        ("/favicon.ico", "image/svg+xml", "<svg"),
    ],
)
async def test_pages_and_their_files_are_served(
    base_url: str, path: str, content_type: str, marker: str
) -> None:
    status, headers, body = await _get(f"{base_url}{path}")
    assert status == 200, body
    assert headers["Content-Type"].split(";")[0] in (content_type, "application/javascript")
    assert marker in body


async def test_workspace_pages_refuse_framing_and_the_widget_may_be_embedded(base_url: str) -> None:
    _, agent_headers, _ = await _get(f"{base_url}/agent")
    assert "frame-ancestors 'none'" in agent_headers["Content-Security-Policy"]
    _, widget_headers, _ = await _get(f"{base_url}/widget.js")
    assert widget_headers["Cross-Origin-Resource-Policy"] == "cross-origin"


async def test_static_files_stay_inside_their_folder(base_url: str) -> None:
    async with aiohttp.ClientSession() as session:
        for path in (
            "/static/../entrypoints/pages.py",
            "/static/%2e%2e/entrypoints/pages.py",
            "/static/nope.js",
        ):
            async with session.get(f"{base_url}{path}") as response:
                assert response.status in (403, 404), path
                assert "def page_routes" not in await response.text()


def test_pages_load_nothing_from_other_hosts() -> None:
    """Offline use: every src/href is same-origin or data:, no CSS imports or remote fonts."""
    for path in STATIC_DIR.iterdir():
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".html":
            markup = re.sub(r"<code>.*?</code>", "", text, flags=re.S)  # snippets shown as text
            for reference in re.findall(r'(?:src|href)="([^"]*)"', markup):
                assert reference.startswith(("/", "data:")), f"{path.name}: {reference}"
        if path.suffix == ".css":
            assert "@import" not in text and "url(" not in text, path.name
        if path.suffix == ".js":
            for specifier in re.findall(r'^import .* from "([^"]+)";', text, flags=re.M):
                assert specifier.startswith("./"), f"{path.name}: {specifier}"
