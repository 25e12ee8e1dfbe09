"""The sandbox's JSON API from Python: what tests (and tools) use, whether the sandbox runs in
the same process or as `python -m ccsandbox` started by `ccctl up`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

import aiohttp


class SandboxClientError(RuntimeError):
    """The sandbox refused a request; the message is its answer."""


class SandboxClient:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> SandboxClient:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._session is not None:
            await self._session.close()

    async def _call(self, method: str, path: str, body: Any = None, **query: str) -> Any:
        assert self._session is not None, "use `async with SandboxClient(...)`"
        async with self._session.request(
            method, f"{self.base_url}{path}", json=body, params=query or None
        ) as response:
            answer = await response.json(content_type=None)
            if response.status >= 300:
                raise SandboxClientError(f"{method} {path}: HTTP {response.status} {answer}")
            return answer

    # -- what was sent ---------------------------------------------------------------------------
    async def messages(self, since: int = 0, wait: float = 0.0) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = (
            await self._call("GET", "/sandbox/api/messages", since=str(since), wait=str(wait))
        )["messages"]
        return found

    async def wait_for(
        self, matches: Callable[[dict[str, Any]], bool], *, seconds: float = 20.0, count: int = 1
    ) -> list[dict[str, Any]]:
        """Records matching `matches` once there are `count` of them (AssertionError after `seconds`)."""
        deadline = time.monotonic() + seconds
        while True:
            every = await self.messages()
            found = [m for m in every if matches(m)]
            if len(found) >= count:
                return found
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    f"the sandbox got {len(found)} matching record(s), wanted {count}: {every}"
                )
            # Long-poll: back as soon as anything new arrives.
            await self.messages(since=every[-1]["seq"] if every else 0, wait=min(left, 2.0))

    async def forget(self) -> None:
        await self._call("DELETE", "/sandbox/api/messages")

    # -- failures --------------------------------------------------------------------------------
    async def fail(self, route: str, *faults: dict[str, Any]) -> dict[str, int]:
        """The next requests on `route` answer these faults (`{"status": 503}`, `{"delay_seconds": 20}`)."""
        answer: dict[str, int] = (
            await self._call("POST", "/sandbox/api/faults", {"route": route, "faults": list(faults)})
        )["pending"]
        return answer

    async def clear_faults(self) -> None:
        await self._call("DELETE", "/sandbox/api/faults")

    # -- the CRM (ccsandbox.crm_api) -------------------------------------------------------------
    async def seed_crm_customer(
        self, identifier: str, account: dict[str, Any], cases: list[dict[str, Any]] | None = None
    ) -> None:
        await self._call(
            "POST",
            "/sandbox/api/crm/customers",
            {"identifier": identifier, "account": account, "cases": cases or []},
        )

    async def crm_requests(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = (await self._call("GET", "/sandbox/api/crm/requests"))["requests"]
        return found

    # -- calls -----------------------------------------------------------------------------------
    async def dial_in(
        self,
        *,
        url: str,
        account_sid: str,
        auth_token: str,
        caller: str,
        number: str,
        status_callback: str = "",
        answers: tuple[str, ...] = (),
    ) -> dict[str, Any]:
        call: dict[str, Any] = await self._call(
            "POST",
            "/sandbox/api/calls",
            {
                "url": url,
                "account_sid": account_sid,
                "auth_token": auth_token,
                "from": caller,
                "to": number,
                "status_callback": status_callback,
                "answers": list(answers),
            },
        )
        return call

    async def call(self, sid: str) -> dict[str, Any]:
        found: dict[str, Any] = await self._call("GET", f"/sandbox/api/calls/{sid}")
        return found

    async def calls(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = (await self._call("GET", "/sandbox/api/calls"))["calls"]
        return found

    async def answer(self, sid: str, *answers: str) -> dict[str, Any]:
        call: dict[str, Any] = await self._call(
            "POST", f"/sandbox/api/calls/{sid}/answers", {"answers": list(answers)}
        )
        return call

    async def leave_unanswered(self, number: str, *statuses: str) -> None:
        """The next calls placed to `number` end with `statuses` (no-answer, busy, failed), one each."""
        await self._call("POST", "/sandbox/api/unanswered", {"to": number, "statuses": list(statuses)})

    async def hang_up(self, sid: str) -> dict[str, Any]:
        call: dict[str, Any] = await self._call("POST", f"/sandbox/api/calls/{sid}/hangup")
        return call

    async def wait_call(
        self, sid: str, until: Callable[[dict[str, Any]], bool], *, seconds: float = 20.0
    ) -> dict[str, Any]:
        """The call once `until(call)` holds (AssertionError with its transcript after `seconds`)."""
        deadline = time.monotonic() + seconds
        while True:
            call = await self.call(sid)
            if until(call):
                return call
            if time.monotonic() > deadline:
                heard = [(h["verb"], h["text"]) for h in call["heard"]]
                summary = {k: v for k, v in call.items() if k != "heard"}
                raise AssertionError(
                    f"call {sid} never got there: {summary}; heard {heard[:30]} ... {heard[-10:]}"
                )
            await asyncio.sleep(0.05)
