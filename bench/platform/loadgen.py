"""The platform bench's load generator, in a process of its own (its CPU is not the platform's).

New customers write to the signed generic provider API at a fixed rate, open loop: a request
is sent when its time comes whether or not the earlier ones were answered. Commands arrive as
JSON lines on stdin, answers leave as JSON lines on stdout:

    -> {"step": 0, "rate": 100, "seconds": 12}
    <- {"step": 0, "sent": 1200, "accepted": 1200, "statuses": {"201": 1200},
        "contacts": [[contact_id, sent_at_unix], ...], "accepted_at": [unix, ...],
        "lag_max_ms": 3.1, ...}
    -> {"quit": true}

`sent_at` is wall-clock time taken just before the request goes out; the offer's arrival is
taken the same way in the agents' process (one machine, one clock).
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from ccmesh import event_loop
from ccmesh.child_process import stopped_with_owner
from gateway.domain.generic_signature import generic_signature

#: Open loop means requests in flight pile up when the platform falls behind; this only bounds
#: sockets, the wait for one is part of the measured latency.
MAX_CONNECTIONS = 512
ROOT = Path(__file__).resolve().parents[2]
REQUEST_TIMEOUT_SECONDS = 60.0


class LoadGenerator:
    def __init__(
        self, session: aiohttp.ClientSession, url: str, signing_secret: str, number_base: str
    ) -> None:
        self._session = session
        self._url = url
        self._secret = signing_secret
        # Every customer is new: a phone number nobody used before in this run.
        self._number_base = number_base

    def _phone(self, step: int, index: int) -> str:
        return f"{self._number_base}{step % 100:02d}{index:06d}"

    async def _send(self, step: int, index: int, answers: dict[str, object]) -> None:
        body = orjson.dumps(
            {
                "from": {"kind": "phone", "value": self._phone(step, index)},
                # Each customer's own words (an order number of their own), as real traffic
                # has: the same text every time would be analysed from the encoder's cache.
                "text": f"Hello, I need help with my order {step % 100:02d}{index:06d}",
                "providerMessageId": uuid.uuid4().hex,
            }
        )
        stamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "X-CC-Timestamp": stamp,
            "X-CC-Signature": generic_signature(self._secret, stamp, body),
        }
        sent_at = time.time()
        status = 0
        try:
            async with self._session.post(self._url, data=body, headers=headers) as response:
                status = response.status
                raw = await response.read()
            if status == 201:
                answer = orjson.loads(raw)
                if answer.get("contactCreated"):
                    answers["contacts"].append([answer["contactId"], sent_at])  # type: ignore[attr-defined]
                    answers["accepted_at"].append(time.time())  # type: ignore[attr-defined]
        except (aiohttp.ClientError, TimeoutError):
            status = 0  # counted under "0": no answer
        statuses: dict[str, int] = answers["statuses"]  # type: ignore[assignment]
        statuses[str(status)] = statuses.get(str(status), 0) + 1
        answers["last_answer"] = time.time()
        answers["answer_ms"].append((time.time() - sent_at) * 1000)  # type: ignore[attr-defined]

    async def step(self, step: int, rate: float, seconds: float) -> dict[str, object]:
        total = int(rate * seconds)
        answers: dict[str, object] = {
            "contacts": [],
            "statuses": {},
            "last_answer": 0.0,
            "answer_ms": [],
            "accepted_at": [],
        }
        pending: list[asyncio.Task[None]] = []
        started_wall = time.time()
        started = time.monotonic()
        lag_max = 0.0
        while len(pending) < total:
            now = time.monotonic()
            due = min(total, int((now - started) * rate) + 1)
            if due > len(pending):
                # How late the latest request went out against its schedule (the generator's own lag).
                lag_max = max(lag_max, now - (started + (due - 1) / rate))
            while len(pending) < due:
                pending.append(asyncio.create_task(self._send(step, len(pending), answers)))
            # Until the next request is due: no wake-ups in between (the generator's CPU comes off
            # the same two cores as the region's).
            await asyncio.sleep(max(0.0, started + len(pending) / rate - time.monotonic()))
        sending_done = time.time()
        await asyncio.gather(*pending)
        statuses: dict[str, int] = answers["statuses"]  # type: ignore[assignment]
        answer_ms: list[float] = sorted(answers["answer_ms"])  # type: ignore[call-overload]
        return {
            # How long the webhook's answer took (the gateway's intake alone, without routing).
            "answer_p50_ms": round(answer_ms[len(answer_ms) // 2], 1) if answer_ms else None,
            "answer_p99_ms": round(answer_ms[min(len(answer_ms) - 1, int(0.99 * len(answer_ms)))], 1)
            if answer_ms
            else None,
            "step": step,
            "rate": rate,
            "sent": total,
            "accepted": statuses.get("201", 0),
            "statuses": statuses,
            "contacts": answers["contacts"],
            # When each new contact's 201 came back (wall clock): gaps show an outage.
            "accepted_at": sorted(answers["accepted_at"]),  # type: ignore[call-overload]
            "started": started_wall,
            "sending_seconds": sending_done - started_wall,
            "last_answer": answers["last_answer"],
            "lag_max_ms": round(lag_max * 1000, 2),
        }


class LoadProcess:
    """The load generator's process and its line protocol."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls, url: str, signing_secret: str, number_base: str) -> LoadProcess:
        # Stopped with the bench: a bench killed mid-run leaves no load running at the region.
        command = stopped_with_owner(
            [sys.executable, "-m", "bench.platform.loadgen", url, signing_secret, number_base]
        )
        process = await asyncio.create_subprocess_exec(
            *command,
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=64 << 20,
        )
        load = cls(process)
        ready = await load._answer()
        if not ready.get("ready"):
            raise RuntimeError(f"load generator: {ready}")
        return load

    async def _answer(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = await self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"load generator exited with {await self.process.wait()}")
        answer: dict[str, Any] = orjson.loads(line)
        return answer

    async def step(self, step: int, rate: float, seconds: float) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(orjson.dumps({"step": step, "rate": rate, "seconds": seconds}) + b"\n")
        await self.process.stdin.drain()
        return await self._answer()

    async def stop(self) -> None:
        if self.process.returncode is None and self.process.stdin is not None:
            self.process.stdin.write(b'{"quit": true}\n')
            await self.process.stdin.drain()
            try:
                await asyncio.wait_for(self.process.wait(), timeout=30)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()

    @property
    def pid(self) -> int:
        return self.process.pid


async def main(url: str, signing_secret: str, number_base: str) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 20)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    connector = aiohttp.TCPConnector(limit=MAX_CONNECTIONS)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        generator = LoadGenerator(session, url, signing_secret, number_base)
        sys.stdout.write(orjson.dumps({"ready": True}).decode() + "\n")
        sys.stdout.flush()
        while line := await reader.readline():
            command = orjson.loads(line)
            if command.get("quit"):
                return
            answer = await generator.step(
                int(command["step"]), float(command["rate"]), float(command["seconds"])
            )
            sys.stdout.write(orjson.dumps(answer).decode() + "\n")
            sys.stdout.flush()


if __name__ == "__main__":
    if len(sys.argv) != 4:
        raise SystemExit(
            "usage: python -m bench.platform.loadgen <webhook url> <signing secret> <number base>"
        )
    # The services' loop: its own CPU per request is part of what the machine spends.
    event_loop.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))
