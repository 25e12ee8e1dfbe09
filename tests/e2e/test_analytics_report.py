"""The analytics store on the platform `ccctl up` starts: a customer's SMS answered and wrapped up
by alice in the workspace shows in `ccctl report` (offered, answered, alice's contact) and on the
reports page in real headless Chromium (charts by interval and queue); a bad report parameter is
refused with its name, on the command line and on the page; only the tenant's supervisors and
admins get a report."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import re
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pyarrow.parquet as pq
import pytest
from google.protobuf.message import Message

from ccctl.main import main as ccctl
from ccmesh.envelope import new_event
from ccmesh.events import EventPublisher
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from contactcenter.integration.v1 import integration_pb2
from contactcenter.integration.v1.integration_pb2_grpc import IntegrationServiceStub
from tests.e2e.cdp_browser import HeadlessChromium, find_chromium
from tests.e2e.harness import REPO, RunningRegion, eventually

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

    async def reported() -> dict[str, Any] | None:
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
    # Routing told alice's state changes (available, busy on accepting, available again): her
    # time on shift and the part of it spent on the contact.
    assert row["staffed_seconds"] > 0 and 0 < row["occupancy"] <= 1

    # Business systems get the finished contact as a curated record on the tenant's subject of
    # the region's stream: what happened, not who the customer is.
    (published,) = await e2e_region.wait_event("contact_record", contact_id=contact_id)
    record = published.contact_record
    assert record.agent == "alice" and record.answered and record.channel == common_pb2.CHANNEL_KIND_SMS
    assert record.handle_seconds > 0 and published.tenant.tenant_id == "acme"
    assert b"447700900377" not in published.SerializeToString()

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

    async def rows_by_queue() -> list[dict[str, Any]]:
        async with e2e_region.http() as http, http.get(f"{reports}&by=queue", headers=supervisor) as response:
            assert response.status == 200, await response.text()
            rows: list[dict[str, Any]] = (await response.json())["rows"]
            return rows

    answered_before = sum(row.get("answered", 0) for row in await rows_by_queue())
    await answer_an_sms(e2e_region, "+447700900388")

    async def answered_on_the_api() -> dict[str, Any] | None:
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


BATCH_TENANT = "initech"
BATCH_CONTACTS = 10


async def finished_chats(region: RunningRegion, count: int) -> list[str]:
    """`count` finished web chats of BATCH_TENANT as the region's stream recorded them (history a
    batch re-analyses: created, one customer message with a card number, closed)."""
    ids = [f"batch-{uuid.uuid4().hex[:10]}" for _ in range(count)]
    async with region.connect() as nc:
        publisher = EventPublisher(nc.jetstream(), region.region)
        for n, contact_id in enumerate(ids):

            def event(payload: Message, contact_id: str = contact_id) -> events_pb2.Event:
                return new_event(
                    payload, tenant_id=BATCH_TENANT, region=region.region, source="e2e", contact_id=contact_id
                )

            chat = common_pb2.CHANNEL_KIND_WEBCHAT
            text = "I was charged twice, refund card 4111 1111 1111 1111 please, terrible"
            await publisher.publish_all(
                [
                    event(events_pb2.ContactCreated(channel=chat, customer_id=f"c{n}")),
                    event(
                        events_pb2.MessageReceived(
                            message_id=f"{contact_id}-m1", channel=chat, customer_id=f"c{n}", text=text
                        )
                    ),
                    event(events_pb2.ContactClosed(outcome="resolved", closed_by="customer")),
                ]
            )
    return ids


def kill_midway(command: list[str], env: dict[str, str], at_least: int) -> int:
    """Run `ccctl COMMAND`, read its bar until it shows `at_least` contacts done, then SIGKILL it
    (no chance to tidy up); the number it showed last."""
    process = subprocess.Popen(
        [sys.executable, "-m", "ccctl.main", *command], stderr=subprocess.PIPE, text=True, env=env, cwd=REPO
    )
    assert process.stderr is not None
    text = ""
    try:
        while True:
            char = process.stderr.read(1)
            if not char:
                raise AssertionError(f"ccctl ai batch ended before {at_least} contacts: {text!r}")
            text += char
            shown = [int(n) for n in re.findall(r"\] (\d+)/\d+", text)]
            if shown and shown[-1] >= at_least:
                return shown[-1]
    finally:
        process.kill()
        process.wait()


async def test_a_batch_killed_midway_resumes_and_reanalyses_each_contact_once(
    e2e_region: RunningRegion,
) -> None:
    contact_ids = await finished_chats(e2e_region, BATCH_CONTACTS)
    today = datetime.now(UTC).date()
    start, end = today.isoformat(), (today + timedelta(days=1)).isoformat()
    token = e2e_region.token("supervisor", "sam", BATCH_TENANT)

    async def stored() -> bool | None:
        async with e2e_region.connect() as nc:
            stub = e2e_region.stub(nc, IntegrationServiceStub, token)
            reply = await stub.ExportContacts(
                integration_pb2.ExportContactsRequest(tenant_id=BATCH_TENANT, start=start, end=end)
            )
        return {c.contact_id for c in reply.contacts} == set(contact_ids) or None

    await eventually(stored)
    command = ["ai", "batch", BATCH_TENANT, "--start", start, "--end", end, "--slice", "1"]
    command += ["--nats-url", e2e_region.nats_url, "--job", "resume-check"]
    env = {**os.environ, "CC_AUTH_SECRET": e2e_region.secret, "CC_REGION": e2e_region.region}
    seen = await asyncio.to_thread(kill_midway, command, env, 2)
    assert seen < BATCH_CONTACTS

    resumed = await asyncio.to_thread(e2e_region.ccctl, *command, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{BATCH_CONTACTS} of {BATCH_CONTACTS} contacts re-analysed" in resumed.stdout
    # It went on from where the killed run stopped rather than from the first contact.
    first_shown = int(re.findall(r"\] (\d+)/\d+", resumed.stderr)[0])
    assert first_shown > seen, resumed.stderr

    results = await e2e_region.wait_event("contact_reanalysed", count=BATCH_CONTACTS)
    ours = [e for e in results if e.tenant.tenant_id == BATCH_TENANT]
    assert sorted(e.contact_id for e in ours) == sorted(contact_ids)  # each once, none twice
    for event in ours:
        result = event.contact_reanalysed
        assert result.job_id == "resume-check" and result.messages == 1
        assert list(result.steps) == ["reclassify", "summarise", "tag", "redact"]
        assert result.summary and "pii:card_number" in result.tags and "card_number" in result.redacted_kinds
        assert b"4111" not in event.SerializeToString()

    # The analytics store keeps each contact's re-analysis once, beside its original row.
    def kept() -> list[dict[str, Any]] | None:
        files = list(e2e_region.plan.data_dir.glob("analytics/*/reanalyses/date=*/*.parquet"))
        rows = [r for f in files for r in pq.read_table(f).to_pylist() if r["tenant_id"] == BATCH_TENANT]
        return rows if len(rows) >= BATCH_CONTACTS else None

    rows = await eventually(lambda: asyncio.to_thread(kept))
    assert sorted(r["contact_id"] for r in rows) == sorted(contact_ids)

    # Bad parameters are refused with their names, by the service and by the store it asks.
    bad_step = await asyncio.to_thread(e2e_region.ccctl, *command, "--steps", "reclassify,translate")
    assert bad_step.returncode == 2 and "steps: unknown step(s) translate" in bad_step.stderr
    backwards = [
        "ai",
        "batch",
        BATCH_TENANT,
        "--start",
        end,
        "--end",
        start,
        "--nats-url",
        e2e_region.nats_url,
    ]
    refused = await asyncio.to_thread(e2e_region.ccctl, *backwards)
    assert refused.returncode == 2 and "end: must be after start" in refused.stderr, refused.stderr
