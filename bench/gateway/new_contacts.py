"""`python -m bench.gateway.new_contacts`: what one NEW contact costs the gateway.

Every request comes from a customer never seen before (one signed webhook each), so each one
resolves a new customer, opens a contact and queues it: the path a new user's load test walks,
not the follow-up messages `bench/gateway` mostly measures. Gateway only: the region-wide view
(offers, every process, every step rate) is `bench/platform`'s, whose meters this reuses.

Per round (ROUNDS rounds, the two webhooks alternating: generic signed API and Twilio SMS):
- `accepted_per_second`: new contacts answered 2xx, CONCURRENCY requests in flight.
- `gateway_cpu_ms_per_contact`: the gateway process's user + system CPU over the round.
- `gateway_sent_per_contact` / `gateway_received_per_contact`: messages the gateway's NATS
  connection sent (publishes, requests, KV writes, acks) and received (replies, acks of its
  publishes, deliveries to its consumers), from nats-server's `/connz` deltas.
- `server_in_per_contact`: every message the server took in (`/varz`), all services.
- `one_at_a_time_p50_ms`: the answer time of a new contact's webhook with nothing else in flight,
  LATENCY_CONTACTS of them: mostly the NATS round trips the gateway waits for one after another.
Then one capture step (CAPTURE_CONTACTS new contacts) counts the messages by operation, and
with BENCH_PROFILE=1 the gateway runs under cProfile and its top functions are printed (on stderr;
BENCH_PROFILE_OUT=<file> keeps the profile).

The figures are counts and CPU time per contact on purpose: on a shared 2-core machine the wall
rate says more about the neighbours than about the gateway.
"""

from __future__ import annotations

import asyncio
import os
import pstats
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp
import nats
import orjson

from bench.gateway.__main__ import ENDPOINT, TENANT, signed, start_platform
from bench.platform.meters import NatsMonitor, SubjectCapture, cpu_seconds
from bench.report import Goal, print_report
from ccctl.launcher import Platform, stop
from ccmesh.configplane.loader import validate_document
from ccmesh.configplane.store import ConfigStore
from gateway.domain.twilio_signature import twilio_signature

CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "32"))
CONTACTS = int(os.environ.get("BENCH_CONTACTS", "600"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
CAPTURE_CONTACTS = int(os.environ.get("BENCH_CAPTURE_CONTACTS", "200"))
PROFILE = os.environ.get("BENCH_PROFILE", "") == "1"
LATENCY_CONTACTS = int(os.environ.get("BENCH_LATENCY_CONTACTS", "100"))
SMS_ENDPOINT = "bench-sms"
SMS_TOKEN = "bench-sms-auth-token-" + "t" * 16
SMS_DOCUMENT = {
    "apiVersion": "contactcenter.dev/v1alpha1",
    "kind": "ChannelEndpoint",
    "metadata": {"name": SMS_ENDPOINT},
    "spec": {
        "region": "eu",
        "tenant": TENANT,
        "brand": "acme-retail",
        "channel": "sms",
        "provider": "twilio",
        "address": "+442070000001",
        "queue": "support",
        "providerApiUrl": "http://127.0.0.1:9",
        "twilio": {"accountSid": "AC" + "1" * 32, "authToken": SMS_TOKEN},
        "rateLimit": {"perSecond": 100000, "burst": 100000},
    },
}
#: A `sitecustomize` that runs the gateway process (only it) under cProfile until it exits.
_PROFILE_HOOK = """
import atexit, cProfile, os, time
if os.environ.get("CC_INSTANCE_NAME", "").startswith("gateway-"):
    # CPU time, not wall time: on a shared machine the wall clock also counts the neighbours.
    _profile = cProfile.Profile(time.process_time)
    _profile.enable()
    atexit.register(lambda: _profile.dump_stats(os.environ["BENCH_PROFILE_FILE"]))
"""


async def generic_request(session: aiohttp.ClientSession, base: str, sender: str) -> int:
    body = orjson.dumps(
        {
            "from": {"kind": "phone", "value": sender},
            "text": "hello, my order",
            "providerMessageId": uuid.uuid4().hex,
        }
    )
    async with session.post(
        f"{base}/v1/generic/{ENDPOINT}/messages", data=body, headers=signed(body)
    ) as answer:
        await answer.read()
        return answer.status


async def sms_request(session: aiohttp.ClientSession, base: str, sender: str) -> int:
    url = f"{base}/v1/twilio/{SMS_ENDPOINT}/sms"
    form = {
        "MessageSid": "SM" + uuid.uuid4().hex,
        "AccountSid": "AC" + "1" * 32,
        "From": sender,
        "To": "+442070000001",
        "Body": "hello, my order",
        "NumMedia": "0",
    }
    headers = {"X-Twilio-Signature": twilio_signature(url, form.items(), SMS_TOKEN)}
    async with session.post(url, data=form, headers=headers) as answer:
        await answer.read()
        return answer.status


WEBHOOKS = {"generic": generic_request, "sms": sms_request}


async def send_new_contacts(
    session: aiohttp.ClientSession, base: str, webhook: str, senders: list[str]
) -> tuple[float, dict[int, int]]:
    """Requests per second, CONCURRENCY in flight, and the count of each status."""
    send = WEBHOOKS[webhook]
    statuses: dict[int, int] = {}
    queue = list(reversed(senders))

    async def worker() -> None:
        while queue:
            status = await send(session, base, queue.pop())
            statuses[status] = statuses.get(status, 0) + 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return len(senders) / (time.perf_counter() - started), statuses


class Senders:
    """Phone numbers never used before in this run: every request is a new customer."""

    def __init__(self) -> None:
        self._next = 0

    def take(self, count: int) -> list[str]:
        first, self._next = self._next, self._next + count
        return [f"+4917{n:09d}" for n in range(first, first + count)]


def gateway_pid(platform: Platform) -> int:
    return next(s.process.pid for s in platform.services if s.name == "gateway")


async def gateway_connection(monitor: NatsMonitor) -> tuple[int, int]:
    connections = await monitor.connections()
    return next((v for name, v in connections.items() if name.startswith("gateway/")), (0, 0))


async def measure_round(
    session: aiohttp.ClientSession,
    platform: Platform,
    monitor: NatsMonitor,
    webhook: str,
    senders: list[str],
) -> dict[str, object]:
    pid = gateway_pid(platform)
    base = f"http://127.0.0.1:{platform.plan.gateway_http_port}"
    server_before, conn_before, cpu_before = (
        await monitor.counters(),
        await gateway_connection(monitor),
        cpu_seconds(pid),
    )
    rate, statuses = await send_new_contacts(session, base, webhook, senders)
    # Deliveries to the gateway's own consumers and their acks trail the last answer a little.
    await asyncio.sleep(1.0)
    cpu = cpu_seconds(pid) - cpu_before
    server = (await monitor.counters()).minus(server_before)
    conn_after = await gateway_connection(monitor)
    count = len(senders)
    accepted = sum(n for status, n in statuses.items() if 200 <= status < 300)
    return {
        "webhook": webhook,
        "contacts": count,
        "accepted": accepted,
        "statuses": {str(k): v for k, v in statuses.items()},
        "accepted_per_second": round(rate, 1),
        "gateway_cpu_ms_per_contact": round(1000 * cpu / count, 2),
        "gateway_sent_per_contact": round((conn_after[0] - conn_before[0]) / count, 2),
        "gateway_received_per_contact": round((conn_after[1] - conn_before[1]) / count, 2),
        "server_in_per_contact": round(server.in_msgs / count, 2),
    }


async def one_at_a_time(session: aiohttp.ClientSession, base: str, webhook: str, senders: list[str]) -> float:
    """Median answer time (ms) of new-contact webhooks sent one after another."""
    send = WEBHOOKS[webhook]
    times = []
    for sender in senders:
        started = time.perf_counter()
        await send(session, base, sender)
        times.append(1000 * (time.perf_counter() - started))
    return round(statistics.median(times), 2)


async def capture_operations(
    session: aiohttp.ClientSession, platform: Platform, senders: list[str]
) -> list[dict[str, object]]:
    capture = SubjectCapture()
    nc = await nats.connect(platform.nats_url, name="bench-capture")
    try:
        await capture.start(nc)
        await nc.flush()
        base = f"http://127.0.0.1:{platform.plan.gateway_http_port}"
        await send_new_contacts(session, base, "generic", senders)
        await asyncio.sleep(1.0)
    finally:
        await nc.close()
    return capture.per_contact(len(senders), top=40)


async def apply_sms_endpoint(platform: Platform) -> None:
    nc = await nats.connect(platform.nats_url)
    try:
        store = await ConfigStore.open(nc.jetstream())
        await store.apply(validate_document(SMS_DOCUMENT))
    finally:
        await nc.close()


def profile_summary(path: Path, top: int = 30) -> None:
    if not path.exists():
        print(f"bench: no profile written at {path}", file=sys.stderr)
        return
    stats = pstats.Stats(str(path), stream=sys.stderr)
    stats.strip_dirs().sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)


async def run(work: Path) -> None:
    # BENCH_PROFILE_OUT keeps the profile for a closer look (`python -m pstats <file>`).
    profile_file = Path(os.environ.get("BENCH_PROFILE_OUT") or work / "gateway.prof")
    if PROFILE:
        hook = work / "hook"
        hook.mkdir()
        (hook / "sitecustomize.py").write_text(_PROFILE_HOOK)
        os.environ["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(hook), os.environ.get("PYTHONPATH", "")) if p
        )
        os.environ["BENCH_PROFILE_FILE"] = str(profile_file)
    platform = await start_platform(work / "data")
    rounds: list[dict[str, object]] = []
    try:
        await apply_sms_endpoint(platform)
        senders = Senders()
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as session:
            monitor = NatsMonitor(session, platform.plan.nats_monitor_port)
            base = f"http://127.0.0.1:{platform.plan.gateway_http_port}"
            # Warm-up: connections, code paths, the endpoint directory, the first publishes.
            for webhook in WEBHOOKS:
                await send_new_contacts(session, base, webhook, senders.take(50))
            for _ in range(ROUNDS):
                for webhook in WEBHOOKS:
                    rounds.append(
                        await measure_round(session, platform, monitor, webhook, senders.take(CONTACTS))
                    )
            latency = {
                webhook: await one_at_a_time(session, base, webhook, senders.take(LATENCY_CONTACTS))
                for webhook in WEBHOOKS
            }
            operations = await capture_operations(session, platform, senders.take(CAPTURE_CONTACTS))
    finally:
        await asyncio.to_thread(stop, platform)
    if PROFILE:
        profile_summary(profile_file)
    sent = sum(int(r["contacts"]) for r in rounds)  # type: ignore[call-overload]
    accepted = sum(int(r["accepted"]) for r in rounds)  # type: ignore[call-overload]
    results = {
        "rounds": rounds,
        "one_at_a_time_p50_ms": latency,
        "operations_per_contact": operations,
        "concurrency": CONCURRENCY,
        "contacts_per_round": CONTACTS,
        "profiled": PROFILE,
    }
    print_report(
        "gateway-new-contacts", results, [Goal("accepted_share", ">=", 1.0, accepted / max(1, sent))]
    )


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-gateway-new-") as tmp:
        asyncio.run(run(Path(tmp)))


if __name__ == "__main__":
    main()
