"""What the platform bench reads while load runs: CPU seconds per process (from /proc), the
nats-server's message counters (`/varz`) and its connections (`/connz`), and a capture that
counts every message by subject shape, to see where the NATS operations per contact go."""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass

import aiohttp
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int, *, descendants: bool = False) -> float:
    """User + system CPU seconds of a live process (all its threads); 0.0 once it is gone.
    `descendants`: with every process it started, and theirs (a service's worker processes, e.g.
    ai's inference pool, are part of what the service costs): live ones read one by one, ended
    ones as the kernel added them to their parent once waited for."""
    # Summed in whole clock ticks and divided once: a sum of per-process floats may read a hair
    # less than the same ticks read together later, and the meter must never seem to go back.
    return _cpu_ticks(pid, descendants) / _TICKS


def _cpu_ticks(pid: int, descendants: bool) -> int:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            raw = stat.read().decode()
    except OSError:
        return 0
    # The command name (field 2) may hold spaces; the counters follow its closing parenthesis.
    fields = raw[raw.rindex(")") + 2 :].split()
    own = int(fields[11]) + int(fields[12])
    if not descendants:
        return own
    # With the children that ended and were waited for (cutime, cstime): a worker replaced during
    # a step moves its CPU there, so the sum never drops.
    ended = int(fields[13]) + int(fields[14])
    return own + ended + sum(_cpu_ticks(child, True) for child in children_of(pid))


def children_of(pid: int) -> list[int]:
    """The live processes `pid` started (from each of its threads' `children` list)."""
    found: list[int] = []
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for thread in threads:
        try:
            with open(f"/proc/{pid}/task/{thread}/children") as listed:
                found += [int(child) for child in listed.read().split()]
        except OSError:
            continue
    return found


@dataclass(frozen=True)
class NatsCounters:
    in_msgs: int
    out_msgs: int
    in_bytes: int
    out_bytes: int

    def minus(self, earlier: NatsCounters) -> NatsCounters:
        return NatsCounters(
            self.in_msgs - earlier.in_msgs,
            self.out_msgs - earlier.out_msgs,
            self.in_bytes - earlier.in_bytes,
            self.out_bytes - earlier.out_bytes,
        )


class NatsMonitor:
    """nats-server's monitoring endpoint (`http: host:port` in its config)."""

    def __init__(self, session: aiohttp.ClientSession, monitor_port: int) -> None:
        self._session = session
        self._base = f"http://127.0.0.1:{monitor_port}"

    async def counters(self) -> NatsCounters:
        async with self._session.get(f"{self._base}/varz") as response:
            varz = await response.json()
        return NatsCounters(varz["in_msgs"], varz["out_msgs"], varz["in_bytes"], varz["out_bytes"])

    async def connections(self) -> dict[str, tuple[int, int]]:
        """(in_msgs, out_msgs) per client connection, by its name (or `cid:<n>` when unnamed)."""
        async with self._session.get(f"{self._base}/connz?limit=1024") as response:
            connz = await response.json()
        found: dict[str, tuple[int, int]] = {}
        for conn in connz.get("connections", []):
            name = conn.get("name") or f"cid:{conn['cid']}"
            previous = found.get(name, (0, 0))
            found[name] = (previous[0] + conn["in_msgs"], previous[1] + conn["out_msgs"])
        return found


_HEX_OR_NUMBER = re.compile(r"^(?:[0-9a-fA-F-]{12,}|\d+)$")
_ID_LIKE = re.compile(r"^(?:[0-9a-fA-F-]{12,}|\d+|[A-Za-z0-9_-]{20,}|\+?\d[\d.]*)$")


def subject_shape(subject: str) -> str:
    """A subject with its per-message parts (ids, sequence numbers, inboxes) folded to `*`, so
    the messages of one kind of operation count together."""
    tokens = subject.split(".")
    head = tokens[0]
    if head.startswith("_INBOX"):
        return "_INBOX.* (replies)"
    if subject.startswith("$JS.ACK."):
        # $JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<time>.<pending>
        return ".".join(tokens[:4]) + ".* (acks)"
    if subject.startswith("$KV."):
        # $KV.<bucket>.<key>: the key's first token says what kind of record it is.
        kind = tokens[2] if len(tokens) > 2 and not _ID_LIKE.match(tokens[2]) else "*"
        return f"$KV.{tokens[1]}.{kind} (kv put)"
    if subject.startswith("$JS.API.DIRECT.GET."):
        return ".".join(tokens[:5]) + ".* (kv get)"
    if subject.startswith("$JS.API."):
        # Stream and consumer names are chosen names, often long ("gateway-journey-steps"):
        # only what is an id in form (hex, digits) is folded.
        kept = [t if not _HEX_OR_NUMBER.match(t) else "*" for t in tokens[:8]]
        return ".".join(kept)
    if subject.startswith("$JS.EVENT.") or subject.startswith("$SYS."):
        return ".".join(tokens[:4]) + ".*"
    return ".".join("*" if _ID_LIKE.match(t) else t for t in tokens[:6])


class SubjectCapture:
    """Every message the account sees, counted by subject shape (a `>` subscription).

    A JetStream delivery reaches the subscription under the stream subject it was stored on, with
    an ack subject naming the consumer as reply: it counts as `<shape> => <stream>/<consumer>`.
    A reply counts as `reply to <shape of the request>` (requests are remembered by their reply
    subject), so a KV write's acknowledgement is told apart from an RPC's answer. The capture
    doubles the server's deliveries while it runs, so it has a step of its own.
    """

    #: Reply subjects remembered at most (a capture of a few seconds needs far fewer).
    MAX_ASKED = 500_000

    def __init__(self) -> None:
        self.by_shape: Counter[str] = Counter()
        self.total = 0
        self._asked: dict[str, str] = {}

    async def on_message(self, msg: Msg) -> None:
        self.total += 1
        shape = subject_shape(msg.subject)
        reply = msg.reply or ""
        if reply.startswith("$JS.ACK."):
            tokens = reply.split(".")
            shape = f"{shape} => {tokens[2]}/{tokens[3]} (delivery)"
        elif msg.subject.startswith("_INBOX"):
            # One inbox may take several answers (a pull request's status after its messages).
            asked = self._asked.get(msg.subject)
            shape = f"reply to {asked}" if asked else "_INBOX.* (reply to a request not seen)"
        if reply.startswith("_INBOX"):
            if len(self._asked) >= self.MAX_ASKED:
                self._asked.clear()
            self._asked[reply] = shape
        self.by_shape[shape] += 1

    async def start(self, nc: NATS) -> None:
        await nc.subscribe(">", cb=self.on_message, pending_msgs_limit=2_000_000)

    def per_contact(self, contacts: int, top: int = 40) -> list[dict[str, object]]:
        return [
            {"subject": shape, "messages": count, "per_contact": round(count / max(1, contacts), 2)}
            for shape, count in self.by_shape.most_common(top)
        ]

    def per_operation(self, contacts: int, top: int = 60) -> list[dict[str, object]]:
        """Messages per contact by operation: a request with its replies and the deliveries of
        what it stored (a KV write's ack and its watchers' copies count with the write)."""
        operations: Counter[str] = Counter()
        for shape, count in self.by_shape.items():
            operations[operation_of(shape)] += count
        return [
            {"operation": name, "messages": count, "per_contact": round(count / max(1, contacts), 2)}
            for name, count in operations.most_common(top)
        ]


def operation_of(shape: str) -> str:
    base = shape.removeprefix("reply to ")
    return base.split(" => ", 1)[0]
