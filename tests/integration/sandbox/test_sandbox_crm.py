"""The sandbox's CRM answers from the customers seeded through its control API, records every
request (whether it carried a bearer token, never the token), answers scripted faults, and
refuses a bad seed naming the field."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from ccsandbox import Sandbox, SandboxSettings
from ccsandbox.client import SandboxClient


async def get(url: str, token: str = "") -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as response:
        return response.status, await response.json(content_type=None)


async def test_seeded_customers_are_answered_and_every_request_is_recorded() -> None:
    async with Sandbox(SandboxSettings(smtp_port=-1)) as sandbox, SandboxClient(sandbox.base_url) as client:
        await client.seed_crm_customer(
            "+447700900401",
            {"id": "CRM-401", "tier": "gold"},
            [{"id": "K1"}, {"id": "K2", "status": "closed"}],
        )
        crm = f"{sandbox.base_url}/crm/v1/customers"
        assert await get(f"{crm}/%2B447700900401", "t0ken") == (200, {"id": "CRM-401", "tier": "gold"})
        status, cases = await get(f"{crm}/%2B447700900401/cases")
        assert (status, cases["open"], [c["id"] for c in cases["cases"]]) == (200, 1, ["K1", "K2"])
        assert (await get(f"{crm}/stranger"))[0] == 404
        await client.fail("crm", {"status": 502})
        assert (await get(f"{crm}/%2B447700900401", "t0ken"))[0] == 502

        recorded = await client.crm_requests()
        assert [(r["path"], r["status"], r["bearer"]) for r in recorded] == [
            ("/crm/v1/customers/+447700900401", 200, True),
            ("/crm/v1/customers/+447700900401/cases", 200, False),
            ("/crm/v1/customers/stranger", 404, False),
            ("/crm/v1/customers/+447700900401", 502, True),
        ]
        assert "t0ken" not in str(recorded)


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"account": {}}, "identifier: a non-empty string is needed"),
        ({"identifier": "x", "account": []}, "account: a JSON object is needed"),
        ({"identifier": "x", "cases": [1]}, "cases: a list of JSON objects is needed"),
    ],
)
async def test_a_bad_seed_is_refused_naming_the_field(body: dict[str, Any], named: str) -> None:
    async with Sandbox(SandboxSettings(smtp_port=-1)) as sandbox, aiohttp.ClientSession() as http:
        async with http.post(f"{sandbox.base_url}/sandbox/api/crm/customers", json=body) as response:
            assert (response.status, (await response.json())["error"]["message"]) == (400, named)
        assert (await get(f"{sandbox.base_url}/crm/v1/customers/x"))[0] == 404
