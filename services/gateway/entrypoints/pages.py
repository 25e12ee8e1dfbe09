"""The gateway's web pages: the chat widget (and its host page), the agent workspace, the supervisor view.

The pages are static HTML/CSS/plain JS under `gateway/static/` (no build step, nothing loaded
from outside hosts, so they work offline); they talk to the gateway only through the
WebSocket protocol of docs/websocket-api.md. What is served here:

- `GET /chat/{endpoint}`: a page hosting the widget for a web chat `ChannelEndpoint`
  (404 naming the endpoint when it is unknown, disabled or not a web chat endpoint);
- `GET /widget.js`: the embeddable widget; one tag on a customer's site opens the chat:
  `<script src="https://<gateway>/widget.js" data-endpoint="<endpoint>" async></script>`;
- `GET /agent`, `GET /supervisor`: the workspace pages (they log in with a token over the socket);
- `GET /reports`: the supervisor's historical reports with charts (over `/v1/tenants/{t}/reports`);
- `GET /static/...`: the pages' files.
"""

from __future__ import annotations

import html
from pathlib import Path

import grpc
from aiohttp import web

from ccmesh.channels import Channel
from gateway.adapters.channel_directory import ChannelDirectory
from gateway.entrypoints.http import RouteAdder, error_response

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"


def _security_headers(request: web.Request, *, frameable: bool) -> dict[str, str]:
    # The pages only ever load their own files and open sockets back to this gateway; a strict
    # policy means injected markup (should escaping ever fail) can neither run nor phone home.
    host = request.host
    policy = (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self' ws://{host} wss://{host}; base-uri 'none'; form-action 'none'"
    )
    if not frameable:
        policy += "; frame-ancestors 'none'"
    return {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-cache",
    }


class Pages:
    def __init__(self, directory: ChannelDirectory, static_dir: Path = STATIC_DIR) -> None:
        self._directory = directory
        self._static = static_dir
        # Read once: the files ship with the code and change only with a new release.
        self._chat_template = (static_dir / "chat.html").read_text(encoding="utf-8")
        self._files: dict[str, str] = {}

    def _file(
        self, request: web.Request, name: str, content_type: str, *, frameable: bool = False
    ) -> web.Response:
        body = self._files.get(name)
        if body is None:
            body = self._files[name] = (self._static / name).read_text(encoding="utf-8")
        return web.Response(
            text=body,
            content_type=content_type,
            charset="utf-8",
            headers=_security_headers(request, frameable=frameable),
        )

    async def chat(self, request: web.Request) -> web.Response:
        name = request.match_info["endpoint"]
        endpoint = self._directory.by_name(name)
        if endpoint is None or endpoint.spec.channel != Channel.WEBCHAT:
            return error_response(
                grpc.StatusCode.NOT_FOUND, f"no web chat endpoint named {name!r} in this region"
            )
        settings = endpoint.spec.webchat
        title = settings.title if settings is not None else "Chat with us"
        values = {
            "__ENDPOINT__": name,
            "__TITLE__": title,
            # For the embed snippet shown on the page: where this gateway was reached.
            "__GATEWAY__": f"{request.scheme}://{request.host}",
        }
        page = self._chat_template
        for placeholder, value in values.items():
            page = page.replace(placeholder, html.escape(value, quote=True))
        return web.Response(
            text=page,
            content_type="text/html",
            charset="utf-8",
            headers=_security_headers(request, frameable=True),
        )

    async def widget(self, request: web.Request) -> web.Response:
        response = self._file(request, "widget.js", "text/javascript", frameable=True)
        # Customer sites load this with a plain <script> tag from their own origin.
        response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
        return response

    async def agent(self, request: web.Request) -> web.Response:
        return self._file(request, "agent.html", "text/html")

    async def supervisor(self, request: web.Request) -> web.Response:
        return self._file(request, "supervisor.html", "text/html")

    async def reports(self, request: web.Request) -> web.Response:
        return self._file(request, "reports.html", "text/html")

    async def favicon(self, request: web.Request) -> web.Response:
        return self._file(request, "favicon.svg", "image/svg+xml", frameable=True)


def page_routes(directory: ChannelDirectory, static_dir: Path = STATIC_DIR) -> RouteAdder:
    pages = Pages(directory, static_dir)

    def add(application: web.Application) -> None:
        application.router.add_get("/chat/{endpoint}", pages.chat)
        application.router.add_get("/widget.js", pages.widget)
        application.router.add_get("/agent", pages.agent)
        application.router.add_get("/supervisor", pages.supervisor)
        application.router.add_get("/reports", pages.reports)
        application.router.add_get("/favicon.ico", pages.favicon)
        application.router.add_static("/static/", static_dir, follow_symlinks=False)

    return add
