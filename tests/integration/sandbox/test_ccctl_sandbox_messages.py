"""`ccctl sandbox messages` shows what the platform sent to the sandbox (table and JSON), and says
clearly when there is no sandbox to ask."""

from __future__ import annotations

import asyncio
import base64

import aiohttp
import orjson
import pytest

from ccctl.main import main
from ccmesh.natsserver import free_port
from ccsandbox import Sandbox, SandboxSettings
from ccsandbox.client import SandboxClient

ACCOUNT = "AC" + "2" * 32


async def send_sms(sandbox: Sandbox, body: str) -> None:
    auth = "Basic " + base64.b64encode(f"{ACCOUNT}:token".encode()).decode()
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{sandbox.base_url}/2010-04-01/Accounts/{ACCOUNT}/Messages.json",
            data={"To": "+447700900009", "From": "+442071838750", "Body": body},
            headers={"Authorization": auth},
        ) as response,
    ):
        assert response.status == 201


async def test_the_table_and_the_json_list_what_was_sent(capsys: pytest.CaptureFixture[str]) -> None:
    async with Sandbox(SandboxSettings(smtp_port=-1)) as sandbox:
        await send_sms(sandbox, "Your order ships today")
        await send_sms(sandbox, "And arrives tomorrow")
        assert await asyncio.to_thread(main, ["sandbox", "messages", "--url", sandbox.base_url]) == 0
        table = capsys.readouterr().out.splitlines()
        assert table[0].split()[:5] == ["TIME", "KIND", "TO", "FROM", "TEXT"]
        assert "Your order ships today" in table[1] and "delivered" in table[1]
        assert "And arrives tomorrow" in table[2]

        assert (
            await asyncio.to_thread(main, ["sandbox", "messages", "--url", sandbox.base_url, "--json"]) == 0
        )
        records = orjson.loads(capsys.readouterr().out)
        assert [(r["kind"], r["to"], r["text"], r["accepted"]) for r in records] == [
            ("sms", "+447700900009", "Your order ships today", True),
            ("sms", "+447700900009", "And arrives tomorrow", True),
        ]


async def test_no_sandbox_is_one_clear_line(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    assert await asyncio.to_thread(main, ["sandbox", "messages", "--url", url]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("ccctl sandbox: error: no provider sandbox at") and len(err.splitlines()) == 1


async def test_the_calls_table_shows_where_each_caller_is(capsys: pytest.CaptureFixture[str]) -> None:
    async with Sandbox(SandboxSettings(smtp_port=-1, pause_scale=0.01)) as sandbox:
        assert await asyncio.to_thread(main, ["sandbox", "calls", "--url", sandbox.base_url]) == 0
        assert capsys.readouterr().out.strip() == "no calls yet"
        # The platform places a call whose TwiML queues the customer (no wait URL: silence).
        auth = "Basic " + base64.b64encode(f"{ACCOUNT}:token".encode()).decode()
        twiml = "<Response><Say>Connecting you.</Say><Enqueue>support</Enqueue></Response>"
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                f"{sandbox.base_url}/2010-04-01/Accounts/{ACCOUNT}/Calls.json",
                data={"To": "+447700900010", "From": "+442071838751", "Twiml": twiml},
                headers={"Authorization": auth},
            ) as response,
        ):
            assert response.status == 201
            sid = (await response.json())["sid"]
        async with SandboxClient(sandbox.base_url) as client:
            await client.wait_call(sid, lambda c: c["queue"] == "support")
        assert await asyncio.to_thread(main, ["sandbox", "calls", "--url", sandbox.base_url]) == 0
        (header, row) = capsys.readouterr().out.splitlines()
        assert header.split()[:4] == ["CALL", "DIRECTION", "CUSTOMER", "STATUS"]
        assert row.split()[:5] == [sid, "outbound-api", "+447700900010", "in-progress", "support"]
        assert row.endswith("Connecting you.")
        assert await asyncio.to_thread(main, ["sandbox", "calls", "--url", sandbox.base_url, "--json"]) == 0
        (listed,) = orjson.loads(capsys.readouterr().out)
        assert (listed["sid"], listed["queue"]) == (sid, "support")
