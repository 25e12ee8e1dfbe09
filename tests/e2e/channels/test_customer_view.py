"""The customer view, as a supervisor uses it: find a customer by phone, read their history.

A customer writes by SMS; the supervisor finds them by phone number over HTTP and with
`ccctl customers`, and reads the timeline: their message, the contact, and the AI insight told
for people (never an internal `ai:<pipeline>/<id> intent=...` record). Bad lookups (no brand
where the tenant isolates brands, an unknown number, another tenant's token) are clear errors,
and a lookup never creates a customer.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import orjson
import pytest

from ccctl.main import main
from tests.e2e.harness import RunningRegion, eventually

pytestmark = pytest.mark.timeout(240)

PHONE = "+447700900321"


async def get_json(
    region: RunningRegion, http: aiohttp.ClientSession, path: str, token: str, **query: str
) -> tuple[int, Any]:
    async with http.get(
        f"{region.http_base}{path}", params=query, headers={"Authorization": f"Bearer {token}"}
    ) as response:
        return response.status, orjson.loads(await response.read())


def ccctl(region: RunningRegion, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    token = region.token("supervisor", "sue")
    code = main(
        ["customers", *args, "--nats-url", region.nats_url, "--region", region.region, "--token", token]
    )
    captured = capsys.readouterr()
    return code, captured.out, captured.err


async def test_a_supervisor_finds_the_sms_customer_and_reads_their_history(
    e2e_region: RunningRegion, capsys: pytest.CaptureFixture[str]
) -> None:
    supervisor = e2e_region.token("supervisor", "sue")
    async with e2e_region.http() as http:
        status, _ = await e2e_region.sms(http, PHONE, "where is my order 1234? it is late")
        assert status == 200
        received = await e2e_region.wait_event("message_received")
        mine = [e for e in received if e.message_received.text.startswith("where is my order 1234")]
        assert mine
        customer_id = mine[0].message_received.customer_id

        status, found = await get_json(
            e2e_region, http, "/v1/tenants/acme/customers", supervisor, phone=PHONE, brand="acme-retail"
        )
        assert status == 200, found
        assert found["customerId"] == customer_id
        assert {"kind": "phone", "value": PHONE} in found["identifiers"]

        path = f"/v1/tenants/acme/customers/{customer_id}/timeline"

        async def with_insight() -> dict[str, Any] | None:
            status, page = await get_json(e2e_region, http, path, supervisor, brand="acme-retail")
            assert status == 200, page
            kinds = {entry["kind"] for entry in page["entries"]}
            return page if {"contact", "message_in", "ai_insight"} <= kinds else None

        timeline = await eventually(with_insight, seconds=60)
    entries = timeline["entries"]
    said = [e for e in entries if e["kind"] == "message_in"]
    assert said[0]["summary"].startswith("where is my order 1234") and said[0]["channel"] == "sms"
    insight = next(e for e in entries if e["kind"] == "ai_insight")
    assert insight["channel"] == "sms"
    assert insight["summary"].startswith("Intent: ")
    assert "ai:" not in insight["summary"] and "intent=" not in insight["summary"], insight

    code, out, err = await asyncio.to_thread(
        ccctl, e2e_region, capsys, "find", "--tenant", "acme", "--brand", "acme-retail", "--phone", PHONE
    )
    assert code == 0, err
    assert customer_id in out and PHONE in out
    code, out, err = await asyncio.to_thread(
        ccctl, e2e_region, capsys, "timeline", customer_id, "--tenant", "acme", "--brand", "acme-retail"
    )
    assert code == 0, err
    assert "where is my order 1234" in out and "ai_insight" in out and "Intent: " in out
    code, out, err = await asyncio.to_thread(
        ccctl,
        e2e_region,
        capsys,
        "get",
        customer_id,
        "--tenant",
        "acme",
        "--brand",
        "acme-retail",
        "-o",
        "json",
    )
    assert code == 0, err
    assert orjson.loads(out)["customerId"] == customer_id


async def test_bad_lookups_are_clear_errors_and_create_nobody(
    e2e_region: RunningRegion, capsys: pytest.CaptureFixture[str]
) -> None:
    supervisor = e2e_region.token("supervisor", "sue")
    nobody = "+447700900999"
    async with e2e_region.http() as http:
        cases = [
            ({"phone": nobody}, supervisor, 400, "tenant.brand_id"),
            ({"phone": nobody, "brand": "acme-retail"}, supervisor, 404, "no customer"),
            ({"brand": "acme-retail"}, supervisor, 400, "an identifier is required"),
            ({"phone": "not a number", "brand": "acme-retail"}, supervisor, 400, "phone"),
            (
                {"phone": nobody, "brand": "acme-retail"},
                e2e_region.token("supervisor", "x", "globex"),
                403,
                "",
            ),
            ({"phone": nobody, "brand": "acme-retail"}, e2e_region.token("integration", "x"), 403, ""),
        ]
        for query, token, status, words in cases:
            got, answer = await get_json(e2e_region, http, "/v1/tenants/acme/customers", token, **query)
            assert got == status, (query, answer)
            assert words in answer["error"]["message"], (query, answer)
        # Still nobody: the lookups created no customer.
        got, _ = await get_json(
            e2e_region, http, "/v1/tenants/acme/customers", supervisor, phone=nobody, brand="acme-retail"
        )
        assert got == 404
        got, answer = await get_json(
            e2e_region,
            http,
            "/v1/tenants/acme/customers/nosuchcustomer/timeline",
            supervisor,
            brand="acme-retail",
        )
        assert got == 404, answer
    code, _, err = await asyncio.to_thread(
        ccctl, e2e_region, capsys, "find", "--tenant", "acme", "--brand", "acme-retail", "--phone", nobody
    )
    assert code == 1 and "NOT_FOUND" in err
    code, _, err = await asyncio.to_thread(
        ccctl, e2e_region, capsys, "find", "--tenant", "acme", "--phone", nobody
    )
    assert code == 1 and "tenant.brand_id" in err
