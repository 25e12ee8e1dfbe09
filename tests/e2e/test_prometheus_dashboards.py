"""The shipped dashboards are true: a real Prometheus scrapes the platform `ccctl up` starts.

The platform runs as `ccctl up --observability` runs it: every service process serves
`/metrics` and Debian's Prometheus (installed by `tools/install_prometheus.sh`) scrapes them,
here each second, while a customer's SMS waits in a queue, alice comes online, accepts, replies
and wraps up, a web chat customer walks the example journey, and two webhook subscriptions
receive the contact events: a CRM that takes them and one whose receiver fails until its events
are dead-lettered. Then every panel expression of every dashboard, asked over the range the
workload ran as Grafana asks it, returns data; every alert rule evaluates without error and its
expression (its comparisons made `bool`) returns data; and no label value of any series carries
a phone number, text, visitor, contact id or customer id of the workload.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp import web

from ccctl.main import main as ccctl
from ccctl.up_observability import scrape_config
from ccmesh.natsserver import free_port
from contactcenter.events.v1 import events_pb2
from tests.dashboard_queries import RULES, alert_queries, panel_queries, variable_metrics
from tests.e2e.harness import RunningRegion, WsClient, eventually, running_region

pytestmark = pytest.mark.timeout(420)

PROMETHEUS = shutil.which("prometheus")
if PROMETHEUS is None:
    pytest.skip(
        "no prometheus on this machine: `make prometheus` (tools/install_prometheus.sh) installs "
        "Debian's package as root",
        allow_module_level=True,
    )

SCRAPE_SECONDS = 1
PHONE = "+447700900477"
TEXT = "Where is my order 55 Baker Street"
REPLY = "It leaves the depot today."
VISITOR = "metrics-e2e-visitor"
CHAT_TEXT = "I need help with my account"
#: The failing receiver's events are dead-lettered after this many attempts, retried at once.
FAILING_ATTEMPTS = 3


@pytest.fixture(scope="module")
def metrics_region(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegion]:
    with pytest.MonkeyPatch.context() as env:
        # The services read these when they start: a failing receiver is given up on in seconds.
        env.setenv("CC_DELIVERY_MAX_ATTEMPTS", str(FAILING_ATTEMPTS))
        env.setenv("CC_DELIVERY_BACKOFF_BASE_SECONDS", "0.05")
        with running_region(
            tmp_path_factory.mktemp("platform"),
            observability=True,
            prometheus_scrape_seconds=SCRAPE_SECONDS,
        ) as region:
            yield region


@pytest.fixture(scope="module")
def prometheus_url(metrics_region: RunningRegion) -> str:
    running = metrics_region.platform.prometheus
    assert running is not None, "--observability started no Prometheus"
    return running.url


async def api(http: aiohttp.ClientSession, base: str, path: str, **params: str) -> Any:
    async with http.get(f"{base}/api/v1/{path}", params=params) as response:
        body = await response.json()
    assert body.get("status") == "success", (path, params, body)
    return body["data"]


async def ready(http: aiohttp.ClientSession, base: str) -> bool | None:
    try:
        async with http.get(f"{base}/-/ready") as response:
            return True if response.status == 200 else None
    except aiohttp.ClientError:
        return None


async def targets_up(http: aiohttp.ClientSession, base: str, expected: int) -> list[Any] | None:
    active = (await api(http, base, "targets"))["activeTargets"]
    up = [t for t in active if t["health"] == "up"]
    return up if len(up) == expected else None


def subscribe(region: RunningRegion, folder: Path, name: str, url: str) -> None:
    """As an admin: a webhook subscription of acme's contact events to `url` (`ccctl apply -f`)."""
    subscription = {
        "apiVersion": "contactcenter.dev/v1alpha1",
        "kind": "WebhookSubscription",
        "metadata": {"name": name},
        "spec": {
            "tenant": "acme",
            "endpointRegion": region.region,
            "url": url,
            "secret": "whsec_cGxhY2Vob2xkZXItc2VjcmV0LXJlcGxhY2UtbWUtMDE=",
            "eventTypes": ["contact_created", "contact_closed"],
        },
    }
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(subscription, sort_keys=False))
    assert ccctl(["apply", "-f", str(path), "--nats-url", region.nats_url]) == 0


async def workload(region: RunningRegion) -> str:
    """A customer's SMS waits with no agent online; alice comes, accepts, replies, wraps up; a
    web chat customer walks the example journey; the CRM hook receives the contact events."""
    async with region.http() as http:
        status, _ = await region.sms(http, PHONE, TEXT)
        assert status == 200
        await asyncio.sleep(4 * SCRAPE_SECONDS)  # the wait is scraped before anyone answers
        alice: WsClient = await region.agent(http, "alice")
        offer = await alice.expect("offer", seconds=45, channel="sms")
        await alice.send(type="accept", id="a1", reservationId=offer["reservationId"])
        await alice.expect("accepted", id="a1")
        contact_id = offer["contactId"]
        await alice.send(type="send", id="s1", contactId=contact_id, text=REPLY)
        await alice.expect("sent", id="s1")
        # Wrapped up the moment the reply is sent: the ticket's summary still holds the reply.
        await alice.send(type="wrap_up", id="w1", contactId=contact_id, disposition="resolved")
        wrapped = await alice.expect("wrapped_up", seconds=45, id="w1")
        assert wrapped["ticket"] is not None, wrapped
        assert f"Agent: {REPLY}" in wrapped["ticket"]["summary"], wrapped["ticket"]
        await alice.ws.close()
        customer = await region.chat(http, "acme-webchat-journey", visitor=VISITOR)
        await customer.send(type="message", id="j1", text=CHAT_TEXT)
        await customer.expect("ack", id="j1")
        await customer.expect("message", seconds=30, **{"from": "bot"})
        await customer.ws.close()
        return str(contact_id)


async def webhook_receiver(port: int) -> tuple[web.AppRunner, list[bytes], list[bytes]]:
    """The CRM's end of the webhook (accepts every delivery and keeps its body), and a broken
    receiver beside it (answers 503, retry at once, and counts the attempts)."""
    received: list[bytes] = []
    refused: list[bytes] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(await request.read())
        return web.Response(status=204)

    async def broken(request: web.Request) -> web.Response:
        refused.append(await request.read())
        return web.Response(status=503, headers={"Retry-After": "0"})

    app = web.Application()
    app.router.add_post("/hook", hook)
    app.router.add_post("/broken", broken)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, received, refused


async def workload_identifiers(region: RunningRegion) -> set[str]:
    """What identifies the workload's customers and contacts: what the customers sent and were
    sent, and every contact id, customer id and sender identifier the stored events name."""
    found = {PHONE, PHONE.lstrip("+"), TEXT, "Baker Street", REPLY, VISITOR, CHAT_TEXT}
    for event in await region.events():
        found.add(event.contact_id)
        payload = getattr(event, event.WhichOneof("payload") or "contact_created")
        if isinstance(payload, events_pb2.ContactCreated):
            found |= {payload.customer_id, getattr(payload, "from").value}
        if isinstance(payload, events_pb2.MessageReceived):
            found.add(payload.customer_id)
    return {identifier for identifier in found if identifier}


@pytest.fixture(scope="module")
def scraped_workload(
    metrics_region: RunningRegion, prometheus_url: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[float, set[str]]:
    """(when the workload started, what identifies its people and contacts), once Prometheus
    scrapes every process and the broken receiver's first event is dead-lettered."""

    async def run() -> tuple[float, set[str]]:
        async with aiohttp.ClientSession() as http:
            await eventually(lambda: ready(http, prometheus_url), seconds=60)
            expected = len(metrics_region.platform.services)
            await eventually(lambda: targets_up(http, prometheus_url, expected), seconds=60)
        runner, received, refused = await webhook_receiver(hook_port)
        try:
            started = time.time()
            contact_id = await workload(metrics_region)

            async def delivered() -> bool | None:
                return True if received and len(refused) >= FAILING_ATTEMPTS else None

            await eventually(delivered, seconds=60)
            # The consumers' lag is read every 5 s; then two scrapes after the dead letter.
            await asyncio.sleep(6 + 3 * SCRAPE_SECONDS)
        finally:
            await runner.cleanup()
        identifiers = await workload_identifiers(metrics_region)
        assert contact_id in identifiers
        return started, identifiers

    hook_port = free_port()
    folder = tmp_path_factory.mktemp("config")
    subscribe(metrics_region, folder, "metrics-e2e-hook", f"http://127.0.0.1:{hook_port}/hook")
    subscribe(metrics_region, folder, "metrics-e2e-broken", f"http://127.0.0.1:{hook_port}/broken")
    return asyncio.run(run())


async def test_every_dashboard_panel_returns_data(
    metrics_region: RunningRegion, prometheus_url: str, scraped_workload: tuple[float, set[str]]
) -> None:
    started, _ = scraped_workload
    queries = panel_queries()
    assert queries, "no dashboard panels found"

    async with aiohttp.ClientSession() as http:

        async def empty_panels() -> list[str] | None:
            missing = []
            for query in queries:
                data = await api(
                    http,
                    prometheus_url,
                    "query_range",
                    query=query.with_region(metrics_region.region),
                    start=str(started - 60),
                    end=str(time.time()),
                    step=str(SCRAPE_SECONDS),
                )
                if not data["result"]:
                    missing.append(f"{query.dashboard} / {query.title}: {query.expr}")
            return missing or None

        # Rates need two scrapes after the workload; panels still empty after that are the failure.
        deadline = time.monotonic() + 60
        missing = await empty_panels()
        while missing and time.monotonic() < deadline:
            await asyncio.sleep(2 * SCRAPE_SECONDS)
            missing = await empty_panels()
        assert not missing, "panels without data:\n" + "\n".join(missing)

        for dashboard, variable, metric in variable_metrics():
            values = await api(http, prometheus_url, "label/region/values", **{"match[]": metric})
            assert metrics_region.region in values, (dashboard, variable, metric, values)


async def test_no_label_value_carries_personal_data(
    prometheus_url: str, scraped_workload: tuple[float, set[str]]
) -> None:
    started, identifiers = scraped_workload
    async with aiohttp.ClientSession() as http:
        series = await api(
            http,
            prometheus_url,
            "series",
            **{"match[]": '{__name__=~".+"}', "start": str(started - 60), "end": str(time.time())},
        )
    assert series, "Prometheus stored no series"
    leaks = [
        (labels["__name__"], name, value)
        for labels in series
        for name, value in labels.items()
        if any(identifier in value for identifier in identifiers)
    ]
    assert not leaks, leaks


async def test_every_alert_rule_evaluates_against_the_real_series(
    prometheus_url: str, scraped_workload: tuple[float, set[str]]
) -> None:
    expected = {
        rule["alert"] for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]
    }
    async with aiohttp.ClientSession() as http:

        async def evaluated() -> list[dict[str, Any]] | None:
            groups = (await api(http, prometheus_url, "rules", type="alert"))["groups"]
            rules = [rule for group in groups for rule in group["rules"]]
            # Prometheus reports the zero time until a rule's first evaluation.
            done = [rule for rule in rules if not rule.get("lastEvaluation", "0001").startswith("0001")]
            return rules if len(done) == len(expected) else None

        rules = await eventually(evaluated, seconds=30)
    assert {rule["name"] for rule in rules} == expected
    broken = [(rule["name"], rule.get("lastError")) for rule in rules if rule["health"] != "ok"]
    assert not broken, broken


async def test_every_alert_expression_returns_data(
    prometheus_url: str, scraped_workload: tuple[float, set[str]]
) -> None:
    queries = alert_queries()
    assert {query.alert for query in queries} == {
        rule["alert"] for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]
    }
    async with aiohttp.ClientSession() as http:

        async def silent() -> list[str]:
            missing = []
            for query in queries:
                data = await api(http, prometheus_url, "query", query=query.signal)
                if not data["result"]:
                    missing.append(f"{query.alert}: {query.signal}")
            return missing

        deadline = time.monotonic() + 30
        missing = await silent()
        while missing and time.monotonic() < deadline:
            await asyncio.sleep(2 * SCRAPE_SECONDS)
            missing = await silent()
    assert not missing, "alert expressions without data:\n" + "\n".join(missing)


def test_the_scrape_config_names_every_service_process(metrics_region: RunningRegion) -> None:
    config = scrape_config(metrics_region.platform.services)
    scraped = {job["job_name"] for job in config["scrape_configs"]}
    assert scraped == {service.name for service in metrics_region.platform.services}
    ports = [service.metrics_port for service in metrics_region.platform.services]
    assert len(set(ports)) == len(ports), "two processes share a /metrics port"
