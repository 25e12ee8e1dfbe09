"""The analytics store on the platform `ccctl up` starts: a customer's SMS answered and wrapped up
by alice in the workspace shows in `ccctl report` (offered, answered, alice's contact) and on the
reports page in real headless Chromium (charts by interval and queue); a bad report parameter is
refused with its name, on the command line and on the page; only the tenant's supervisors and
admins get a report."""

from __future__ import annotations

import asyncio
import contextlib
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest

from ccctl.main import main as ccctl
from tests.e2e.cdp_browser import HeadlessChromium, find_chromium
from tests.e2e.harness import RunningRegion, eventually

pytestmark = pytest.mark.timeout(300)


def run_ccctl(
    region: RunningRegion, *args: str, command: tuple[str, ...] = ("report",)
) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = ccctl(
            [*command, "--tenant", "acme", "--region", region.region, "--nats-url", region.nats_url, *args]
        )
    return code, out.getvalue(), err.getvalue()


async def answer_an_sms(region: RunningRegion, phone: str) -> str:
    """A customer's SMS, accepted, replied to and wrapped up by alice in the workspace; its contact id."""
    async with region.http() as http:
        alice = await region.agent(http, "alice")
        status, _ = await region.sms(http, phone, "Where is my refund?")
        assert status == 200
        offer = await alice.expect("offer", seconds=45, channel="sms")
        await alice.send(type="accept", id="a1", reservationId=offer["reservationId"])
        await alice.expect("accepted", id="a1")
        await alice.send(type="send", id="s1", contactId=offer["contactId"], text="It is on its way.")
        await alice.expect("sent", id="s1")
        await alice.send(type="wrap_up", id="w1", contactId=offer["contactId"], disposition="resolved")
        await alice.expect("wrapped_up", seconds=45, id="w1")
        await alice.ws.close()
    contact_id: str = offer["contactId"]
    return contact_id


async def test_an_answered_sms_shows_in_the_report_and_its_export(
    e2e_region: RunningRegion, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CC_AUTH_SECRET", e2e_region.secret)  # what `ccctl report` signs its token with
    today = datetime.now(UTC).date()
    period = ["--start", today.isoformat(), "--end", (today + timedelta(days=1)).isoformat()]
    contact_id = await answer_an_sms(e2e_region, "+447700900377")

    async def reported() -> dict | None:
        code, out, err = await asyncio.to_thread(
            run_ccctl, e2e_region, *period, "--interval", "day", "--by", "agent", "-o", "json"
        )
        assert code == 0, err
        rows = orjson.loads(out).get("rows", [])
        answered = {row["group"]: row for row in rows if row.get("answered")}
        return answered.get("alice")

    row = await eventually(reported)
    assert row["offered"] == 1 and row["answered"] == 1 and row["abandoned"] == 0
    assert row["average_speed_of_answer"] >= 0 and row["average_handle_time"] > 0

    code, out, _ = await asyncio.to_thread(run_ccctl, e2e_region, *period, "--by", "channel")
    assert code == 0
    assert out.splitlines()[0].split()[:4] == ["START", "GROUP", "OFFERED", "ANSWERED"]
    assert any(line.split()[1:4] == ["sms", "1", "1"] for line in out.splitlines()[1:]), out

    code, _, err = await asyncio.to_thread(run_ccctl, e2e_region, *period, "--interval", "week")
    assert code == 2
    assert "interval: unknown 'week'; one of 15m, hour, day" in err

    # The period's contacts, exported from the region's store as Parquet: alice's SMS, answered,
    # without the customer's id.
    exported = tmp_path / "contacts.parquet"
    code, _, err = await asyncio.to_thread(
        run_ccctl, e2e_region, "--from", period[1], "--to", period[3], "--format", "parquet",
        "--file", str(exported), command=("report", "export"),
    )  # fmt: skip
    assert code == 0, err
    rows = {row["contact_id"]: row for row in pq.read_table(exported).to_pylist()}
    assert rows[contact_id]["channel"] == "sms" and rows[contact_id]["answered"]
    assert rows[contact_id]["agent"] == "alice" and "customer_id" not in rows[contact_id]
    code, _, err = await asyncio.to_thread(
        run_ccctl, e2e_region, "--from", period[3], "--to", period[1], command=("report", "export")
    )
    assert code == 2 and "end: must be after start" in err


async def test_the_reports_page_charts_the_day_in_a_real_browser(
    e2e_region: RunningRegion, tmp_path: Path
) -> None:
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("no chromium on this machine: `make browser` (tools/install_chromium.sh) installs it")
    today = datetime.now(UTC).date()
    start, end = today.isoformat(), (today + timedelta(days=1)).isoformat()
    reports = f"{e2e_region.http_base}/v1/tenants/acme/reports?start={start}&end={end}"
    # The gateway checks at start that every route it serves is in its OpenAPI document.
    undocumented = [line for line in e2e_region.log("gateway").splitlines() if "undocumented" in line]
    assert not [line for line in undocumented if "reports" in line], undocumented
    async with e2e_region.http() as http:
        # Only the tenant's supervisors and admins: an agent, or another tenant's supervisor, is refused.
        for token in (e2e_region.token("agent", "alice"), e2e_region.token("supervisor", "sam", "globex")):
            async with http.get(reports, headers={"Authorization": f"Bearer {token}"}) as response:
                assert response.status == 403, await response.text()
        async with http.get(reports) as response:
            assert response.status == 401
        supervisor = {"Authorization": f"Bearer {e2e_region.token('supervisor', 'sam')}"}
        async with http.get(f"{reports}&interval=week", headers=supervisor) as response:
            assert response.status == 400
            refusal = (await response.json())["error"]["message"]
            assert "interval: unknown 'week'; one of 15m, hour, day" in refusal

    async def rows_by_queue() -> list[dict]:
        async with e2e_region.http() as http, http.get(f"{reports}&by=queue", headers=supervisor) as response:
            assert response.status == 200, await response.text()
            rows: list[dict] = (await response.json())["rows"]
            return rows

    answered_before = sum(row.get("answered", 0) for row in await rows_by_queue())
    await answer_an_sms(e2e_region, "+447700900388")

    async def answered_on_the_api() -> dict | None:
        rows = await rows_by_queue()
        if sum(row.get("answered", 0) for row in rows) <= answered_before:
            return None
        return next((row for row in rows if row.get("answered") and "serviceLevel" in row), None)

    queue_row = await eventually(answered_on_the_api)

    async with HeadlessChromium.launch(tmp_path / "browser", chromium) as browser:
        try:
            page = await browser.new_page("reports")
            await page.goto(f"{e2e_region.http_base}/reports?start={start}&end={end}&interval=hour&by=queue")
            await page.type_into("document.getElementById('token')", e2e_region.token("supervisor", "sam"))
            await page.click("document.querySelector('#login-form button[type=submit]')")
            await page.wait_for("document.getElementById('reports').dataset.state === 'ready'", seconds=30)
            # Bars per interval for offered, answered and abandoned; a service-level point for the
            # queue; the queue's totals; the figures table: all drawn from the same report.
            answered = await page.evaluate(
                "[...document.querySelectorAll('#volume-chart rect.bar.answered')]"
                ".reduce((sum, bar) => sum + Number(bar.dataset.value), 0)"
            )
            assert answered >= 1
            for measure in ("offered", "abandoned"):
                bars = f"document.querySelectorAll('#volume-chart rect.bar.{measure}').length"
                assert await page.evaluate(bars) >= 1
            levels = await page.evaluate(
                "[...document.querySelectorAll('#level-chart circle.level-point')]"
                ".map(point => [point.dataset.group, Number(point.dataset.value)])"
            )
            assert [queue_row["group"], queue_row["serviceLevel"]] in levels
            assert await page.evaluate(
                f"[...document.querySelectorAll('#groups-chart rect.bar.answered')]"
                f".some(bar => bar.dataset.group === {orjson.dumps(queue_row['group']).decode()}"
                " && Number(bar.dataset.value) >= 1)"
            )
            assert await page.evaluate("document.querySelectorAll('#report-rows tr').length") >= 1
            assert await page.evaluate("document.getElementById('report-error').hidden")

            # A bad parameter: the page says which and why, and clears the last report's charts.
            await page.evaluate(f"document.getElementById('end').value = '{today - timedelta(days=1)}'")
            await page.click("document.querySelector('#report-form button[type=submit]')")
            message = await page.wait_for(
                "!document.getElementById('report-error').hidden"
                " && document.getElementById('report-error').textContent"
            )
            assert message.startswith("The report was refused: end: must be after start"), message
            assert await page.evaluate("document.getElementById('reports').dataset.state") == "error"
            assert await page.evaluate("document.querySelectorAll('#volume-chart rect').length") == 0
        except BaseException:
            print("screenshots:", *await browser.screenshots(tmp_path / "screenshots"))
            print(browser.console_report())
            raise
