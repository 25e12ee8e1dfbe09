"""Drive Debian's headless chromium over the DevTools protocol (CDP), asyncio-native.

    async with HeadlessChromium.launch(tmp_path) as browser:
        page = await browser.new_page()          # its own browser context: separate storage
        await page.goto("http://127.0.0.1:8080/chat/acme-webchat")
        await page.type_into("document.querySelector('textarea')", "hello")
        await page.press_enter()
        await page.wait_for("document.body.innerText.includes('hi')")

Why not Selenium or Playwright: Playwright's browser download is unavailable here and its
`executable_path` mode still needs the matching driver build; Selenium would add
chromium-driver and a blocking client beside the asyncio services under test. A handful of
CDP commands over one WebSocket (aiohttp, already a dependency) is all the tests need, and
input goes through `Input.dispatch*` so it reaches the page as real key and mouse events.

Waiting is by polling a JavaScript condition with a generous limit; a limit is a guard
against hanging, never a timing assertion. Every page records its console and uncaught
exceptions (`page.console`) so a failing test can print what the browser said.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

#: Flags from FACTS.md: headless, no sandbox (root in CI), and no side trips to outside hosts.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--mute-audio",
    # Wide enough for the agent workspace's three columns, as on an agent's desktop.
    "--window-size=1366,900",
    "--remote-debugging-port=0",
    "--remote-allow-origins=*",
)
#: Upper bound for one CDP command and for start-up: against hangs, not a timing check.
COMMAND_SECONDS = 30.0


def find_chromium() -> str | None:
    """The system chromium, or None (then the browser tests skip and say why)."""
    explicit = os.environ.get("CC_CHROMIUM")
    if explicit:
        return explicit if Path(explicit).exists() else None
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


class BrowserError(RuntimeError):
    """A CDP command failed, or a script threw inside the page."""


@dataclass
class _Connection:
    socket: aiohttp.ClientWebSocketResponse
    pending: dict[int, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)
    listeners: dict[str, list[Page]] = field(default_factory=dict)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def send(self, method: str, params: dict[str, Any] | None = None, session: str = "") -> Any:
        message_id = next(self.ids)
        message: dict[str, Any] = {"id": message_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[message_id] = future
        await self.socket.send_str(json.dumps(message))
        try:
            async with asyncio.timeout(COMMAND_SECONDS):
                reply = await future
        finally:
            self.pending.pop(message_id, None)
        if "error" in reply:
            raise BrowserError(f"{method}: {reply['error'].get('message')} {reply['error'].get('data', '')}")
        return reply.get("result", {})

    async def pump(self) -> None:
        async for frame in self.socket:
            if frame.type != aiohttp.WSMsgType.TEXT:
                continue
            message = json.loads(frame.data)
            if "id" in message:
                future = self.pending.get(message["id"])
                if future is not None and not future.done():
                    future.set_result(message)
                continue
            for page in self.listeners.get(message.get("sessionId", ""), []):
                page.on_event(message.get("method", ""), message.get("params", {}))
        # The browser went away: fail whoever still waits instead of letting them hang.
        for future in self.pending.values():
            if not future.done():
                future.set_exception(BrowserError("chromium closed the DevTools connection"))


class Page:
    """One tab in its own browser context (cookies and localStorage not shared with other pages)."""

    def __init__(self, connection: _Connection, session: str, name: str) -> None:
        self._connection = connection
        self._session = session
        self.name = name
        self.console: list[str] = []

    def on_event(self, method: str, params: dict[str, Any]) -> None:
        if method == "Runtime.consoleAPICalled":
            parts = [str(arg.get("value", arg.get("description", ""))) for arg in params.get("args", [])]
            self.console.append(f"console.{params.get('type')}: {' '.join(parts)}")
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            description = details.get("exception", {}).get("description") or details.get("text")
            self.console.append(f"uncaught: {description}")
        elif method == "Log.entryAdded":
            entry = params.get("entry", {})
            self.console.append(f"log.{entry.get('level')}: {entry.get('text')} {entry.get('url', '')}")

    async def send(self, method: str, params: dict[str, Any] | None = None) -> Any:
        return await self._connection.send(method, params, self._session)

    async def goto(self, url: str) -> None:
        result = await self.send("Page.navigate", {"url": url})
        if result.get("errorText"):
            raise BrowserError(f"navigate {url}: {result['errorText']}")
        await self.wait_for("document.readyState === 'complete'")

    async def evaluate(self, expression: str) -> Any:
        """The JSON value of `expression` in the page (promises are awaited)."""
        result = await self.send(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True}
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            description = details.get("exception", {}).get("description") or details.get("text")
            raise BrowserError(f"{expression!r} threw: {description}")
        return result.get("result", {}).get("value")

    async def wait_for(self, expression: str, *, seconds: float = 30.0) -> Any:
        """Poll `expression` until it is truthy and return it; a guard against hangs."""
        last: Any = None
        try:
            async with asyncio.timeout(seconds):
                while True:
                    with contextlib.suppress(BrowserError):
                        last = await self.evaluate(expression)
                        if last:
                            return last
                    await asyncio.sleep(0.1)
        except TimeoutError:
            raise AssertionError(
                f"{self.name}: still not true after {seconds:.0f}s: {expression} (last value {last!r})"
            ) from None

    async def click(self, element: str) -> None:
        """Click the middle of `element` (a JS expression yielding an Element) with real mouse events."""
        box = await self.wait_for(
            f"(() => {{ const e = {element}; if (!e) return null; e.scrollIntoView({{block: 'center'}});"
            " const r = e.getBoundingClientRect();"
            " return r.width > 0 && r.height > 0 ? {x: r.x + r.width / 2, y: r.y + r.height / 2} : null; })()"
        )
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            await self.send(
                "Input.dispatchMouseEvent",
                {"type": kind, "x": box["x"], "y": box["y"], "button": "left", "clickCount": 1},
            )

    async def type_into(self, element: str, text: str) -> None:
        """Focus `element` and type `text` as the keyboard would insert it."""
        await self.click(element)
        await self.wait_for(f"document.activeElement === {element} || {element}.matches(':focus')")
        await self.send("Input.insertText", {"text": text})

    async def drop_websockets(self) -> int:
        """Close every WebSocket the page holds, as a network drop would; returns how many."""
        prototype = await self.send("Runtime.evaluate", {"expression": "WebSocket.prototype"})
        found = await self.send(
            "Runtime.queryObjects", {"prototypeObjectId": prototype["result"]["objectId"]}
        )
        closed = await self.send(
            "Runtime.callFunctionOn",
            {
                "objectId": found["objects"]["objectId"],
                "functionDeclaration": (
                    "function () { const open = this.filter(s => s.readyState <= 1);"
                    " open.forEach(s => s.close(4000, 'test drops the connection')); return open.length; }"
                ),
                "returnByValue": True,
            },
        )
        return int(closed["result"]["value"])

    async def screenshot(self, path: Path) -> Path:
        """Save what the page shows now as a PNG (for a failing test, or a person checking the UI)."""
        shot = await self.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    async def press_enter(self) -> None:
        key = {"key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13, "nativeVirtualKeyCode": 13}
        await self.send("Input.dispatchKeyEvent", {"type": "keyDown", "text": "\r", **key})
        await self.send("Input.dispatchKeyEvent", {"type": "keyUp", **key})


class HeadlessChromium:
    def __init__(
        self, process: asyncio.subprocess.Process, connection: _Connection, pump: asyncio.Task[None]
    ):
        self._process = process
        self._connection = connection
        self._pump = pump
        self.pages: list[Page] = []

    @classmethod
    @contextlib.asynccontextmanager
    async def launch(cls, workdir: Path, executable: str | None = None) -> AsyncIterator[HeadlessChromium]:
        executable = executable or find_chromium()
        if executable is None:
            raise BrowserError("no chromium found: run tools/install_chromium.sh")
        workdir.mkdir(parents=True, exist_ok=True)
        # A fresh profile every time: no cookies, storage or stale DevToolsActivePort from a last run.
        profile = Path(tempfile.mkdtemp(prefix="chromium-profile-", dir=workdir))
        log = (workdir / "chromium.log").open("wb")
        process = await asyncio.create_subprocess_exec(
            executable,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            "about:blank",
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
        )
        session = aiohttp.ClientSession()
        pump: asyncio.Task[None] | None = None
        try:
            url = await _devtools_url(profile / "DevToolsActivePort", process)
            socket = await session.ws_connect(url, max_msg_size=0)
            connection = _Connection(socket)
            pump = asyncio.create_task(connection.pump(), name="cdp-pump")
            yield cls(process, connection, pump)
        finally:
            if pump is not None:
                pump.cancel()
            await session.close()
            if process.returncode is None:
                process.terminate()
            try:
                async with asyncio.timeout(10):
                    await process.wait()
            except TimeoutError:
                process.kill()
                await process.wait()
            log.close()

    async def new_page(self, name: str) -> Page:
        context = await self._connection.send("Target.createBrowserContext", {"disposeOnDetach": True})
        target = await self._connection.send(
            "Target.createTarget", {"url": "about:blank", "browserContextId": context["browserContextId"]}
        )
        attached = await self._connection.send(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}
        )
        page = Page(self._connection, attached["sessionId"], name)
        self._connection.listeners.setdefault(attached["sessionId"], []).append(page)
        for domain in ("Page", "Runtime", "Log"):
            await page.send(f"{domain}.enable")
        self.pages.append(page)
        return page

    async def screenshots(self, folder: Path) -> list[Path]:
        folder.mkdir(parents=True, exist_ok=True)
        saved = []
        for page in self.pages:
            with contextlib.suppress(BrowserError, TimeoutError):
                saved.append(await page.screenshot(folder / f"{page.name}.png"))
        return saved

    def console_report(self) -> str:
        """Everything the pages logged, for a failing test's output."""
        lines = []
        for page in self.pages:
            lines.append(f"--- {page.name} console ---")
            lines.extend(page.console or ["(nothing)"])
        return "\n".join(lines)


async def _devtools_url(port_file: Path, process: asyncio.subprocess.Process) -> str:
    """Chromium writes the DevTools port and browser path into the profile once it listens."""
    async with asyncio.timeout(COMMAND_SECONDS):
        while True:
            if process.returncode is not None:
                raise BrowserError(f"chromium exited with {process.returncode} before listening")
            if port_file.exists():
                lines = port_file.read_text().split()
                if len(lines) >= 2:
                    return f"ws://127.0.0.1:{lines[0]}{lines[1]}"
            await asyncio.sleep(0.05)
