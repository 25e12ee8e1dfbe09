"""`python -m bench.recovery`: how fast KV watches and gateway claims recover.

KV watches: one real nats-server is restarted (same port, same store) several times. Each
time, once the client has reconnected and JetStream takes a write again, a value is written;
the time until a `ccmesh.kv_watch.KeyWatch` delivers it is measured, beside nats-py's own
`KeyValue.watch` for comparison. Reported from the client's reconnect (the moment the watch
can know) and from the accepted write. Goal: within 1 s of the reconnect.

Claims: a process holding a provider message's claim (a real `ContactStore` with its
`Presence`) is SIGKILLed; another instance, with a claim expiry far beyond the run, retries
the message every 50 ms. Reported: time from the kill to the take-over. Goal: a few seconds
(it asks twice, `ccmesh.presence.CONFIRM_AFTER_SECONDS` apart), not the 30 s expiry.
`--rounds N` sets the repetitions (default 5).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import nats
from nats.aio.client import Client

from bench.report import Goal, print_report
from ccmesh.kv import ensure_bucket
from ccmesh.kv_watch import KeyWatch
from ccmesh.presence import Presence
from ccmesh.testing.topologies import single_server
from gateway.adapters.contact_store import ContactStore, StillProcessing

BUCKET = "bench-recovery"
NEVER_SECONDS = 10_000_000.0

_HOLDER = """
import asyncio, sys, nats
from ccmesh.presence import Presence
from gateway.adapters.contact_store import ContactStore

async def main():
    nc = await nats.connect(sys.argv[1])
    presence = Presence(nc)
    await presence.start()
    kv = await nc.jetstream().key_value(sys.argv[2])
    await ContactStore(kv, holders=presence).claim_message("acme", sys.argv[3])
    print("claimed", flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


async def _first(watch: Any, value: bytes) -> float:
    while True:
        entry = await watch.updates(timeout=60)
        if entry is not None and entry.value == value:
            return time.monotonic()


#: Set by the client's reconnected callback, with the time it ran.
back = asyncio.Event()
reconnected_at: list[float] = []


async def _on_reconnected() -> None:
    reconnected_at.append(time.monotonic())
    back.set()


async def _watch_round(topology: Any, nc: Client, kv: Any, round_number: int) -> dict[str, float]:
    ours = await KeyWatch.start(kv, "k.*")
    theirs = await kv.watch("k.*")
    for watch in (ours, theirs):
        while await watch.updates(timeout=10) is not None:
            pass  # the values stored before: not what is measured
    value = f"after-{round_number}".encode()
    ours_seen = asyncio.create_task(_first(ours, value))
    theirs_seen = asyncio.create_task(_first(theirs, value))
    back.clear()
    server = topology.server("n1")
    server.stop()
    server.start()
    await asyncio.wait_for(back.wait(), 60)
    reconnected = reconnected_at[-1]
    while True:
        try:
            await asyncio.wait_for(kv.put("k.x", value), 0.5)
            break
        except Exception:
            await asyncio.sleep(0.01)
    written = time.monotonic()
    try:
        ours_at = await asyncio.wait_for(ours_seen, 60)
        theirs_at = await asyncio.wait_for(theirs_seen, 60)
    finally:
        await ours.stop()
        await theirs.stop()
    return {
        "keywatch_after_reconnect_s": ours_at - reconnected,
        "keywatch_after_write_s": max(0.0, ours_at - written),
        "natspy_after_reconnect_s": theirs_at - reconnected,
        "write_accepted_after_reconnect_s": written - reconnected,
    }


async def _claim_round(url: str, nc: Client, kv: Any, token: str) -> float:
    holder = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _HOLDER, url, BUCKET, token, stdout=asyncio.subprocess.PIPE, env=os.environ
    )
    assert holder.stdout is not None
    await asyncio.wait_for(holder.stdout.readline(), 30)
    presence = Presence(nc)
    await presence.start()
    store = ContactStore(kv, holders=presence, claim_expiry=NEVER_SECONDS)
    try:
        holder.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        await holder.wait()
        while True:
            try:
                await store.claim_message("acme", token)
                return time.monotonic() - killed
            except StillProcessing:
                await asyncio.sleep(0.05)
    finally:
        await presence.stop()


def _summary(samples: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(samples), 4), "max": round(max(samples), 4)}


async def main(rounds: int) -> None:
    with tempfile.TemporaryDirectory() as root:
        topology = single_server(Path(root) / "nats")
        try:
            url = topology.urls[0]
            nc = await nats.connect(
                url, max_reconnect_attempts=-1, reconnect_time_wait=0.5, reconnected_cb=_on_reconnected
            )
            kv = await ensure_bucket(nc.jetstream(), BUCKET, history=1)
            await kv.put("k.x", b"before")
            watch_rounds = [await _watch_round(topology, nc, kv, number) for number in range(rounds)]
            claims = [await _claim_round(url, nc, kv, f"token-{number}") for number in range(rounds)]
            await nc.close()
        finally:
            topology.stop_all()
    results: dict[str, Any] = {
        name: _summary([round_[name] for round_ in watch_rounds]) for name in watch_rounds[0]
    }
    results["claim_taken_over_after_kill_s"] = _summary(claims)
    recovery = "keywatch_after_reconnect_s"
    results["rounds"] = rounds
    print_report(
        "recovery",
        results,
        [
            Goal("keywatch_after_reconnect_s.max", "<=", 1.0, max(r[recovery] for r in watch_rounds)),
            Goal("claim_taken_over_after_kill_s.max", "<=", 5.0, max(claims)),
        ],
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    asyncio.run(main(parser.parse_args().rounds))
