"""Reading the access audit log: one tenant's records of a period, filtered, a page at a time.

The query is checked first (`AuditQuery.problems`), so a bad parameter is refused with its name.
Records come oldest first; `next_sequence` (a position: stream sequence and line in the message,
see `ccmesh.audit.POSITION_STRIDE`) continues after the last one returned.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from datetime import UTC, datetime

from nats.js import api
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError

from ccmesh import naming, stream_read
from ccmesh.audit import KINDS, OUTCOMES, POSITION_STRIDE, AuditRecord, unpack

MAX_LIMIT = 1000
_FETCH = 256


@dataclass(frozen=True)
class AuditQuery:
    tenant_id: str
    #: Unix seconds; 0: from the oldest record kept.
    since: float = 0.0
    #: Unix seconds; 0: up to now.
    until: float = 0.0
    actor: str = ""
    role: str = ""
    kind: str = ""
    outcome: str = ""
    #: Substrings of the action (method) and of the target.
    action: str = ""
    target: str = ""
    limit: int = 100
    #: Continue after this stream sequence (the previous page's `next_sequence`).
    after_sequence: int = 0

    def problems(self) -> list[str]:
        found = []
        if not self.tenant_id:
            found.append("tenant_id: required")
        for name in ("since", "until"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                found.append(f"{name}: must be a Unix time in seconds, got {value}")
        if self.until and self.since > self.until:
            found.append(f"since ({self.since}) is after until ({self.until})")
        if self.kind and self.kind not in KINDS:
            found.append(f"kind: {self.kind!r} is not one of {sorted(KINDS)}")
        if self.outcome and self.outcome not in OUTCOMES:
            found.append(f"outcome: {self.outcome!r} is not one of {sorted(OUTCOMES)}")
        if not 1 <= self.limit <= MAX_LIMIT:
            found.append(f"limit: must be between 1 and {MAX_LIMIT}, got {self.limit}")
        if self.after_sequence < 0:
            found.append(f"after_sequence: must not be negative, got {self.after_sequence}")
        return found

    def matches(self, record: AuditRecord) -> bool:
        return (
            (not self.until or record.at <= self.until)
            and record.at >= self.since
            and (not self.actor or record.actor == self.actor)
            and (not self.role or record.role == self.role)
            and (not self.kind or record.kind == self.kind)
            and (not self.outcome or record.outcome == self.outcome)
            and self.action in record.action
            and self.target in record.target
        )


@dataclass(frozen=True)
class AuditPage:
    records: list[AuditRecord]
    #: Pass as `after_sequence` for the next page; 0 when nothing more matched.
    next_sequence: int


async def query_audit(js: JetStreamContext, region: str, query: AuditQuery) -> AuditPage:
    """The records of `query` in `region`'s audit stream (ValueError naming a bad parameter)."""
    problems = query.problems()
    if problems:
        raise ValueError("; ".join(problems))
    stream = naming.audit_stream(region).name
    try:
        info = await js.stream_info(stream)
    except NotFoundError:
        return AuditPage([], 0)
    after_message, after_line = divmod(query.after_sequence, POSITION_STRIDE)
    if info.state.messages == 0 or after_message > info.state.last_seq:
        return AuditPage([], 0)
    config = api.ConsumerConfig(
        ack_policy=api.AckPolicy.NONE,
        filter_subject=naming.audit_subject(region, query.tenant_id),
        inactive_threshold=30.0,
        max_waiting=1,
    )
    if query.after_sequence:
        # From the message holding the last record returned: the lines after it come first.
        config.deliver_policy = api.DeliverPolicy.BY_START_SEQUENCE
        config.opt_start_seq = after_message
    elif query.since:
        config.deliver_policy = api.DeliverPolicy.BY_START_TIME
        config.opt_start_time = datetime.fromtimestamp(query.since, UTC)
    found: list[AuditRecord] = []
    last_position = 0
    messages = stream_read.stored(
        js, naming.audit_subject(region, query.tenant_id), stream=stream, config=config, batch=_FETCH
    )
    async with contextlib.aclosing(messages):
        async for message in messages:
            sequence = message.metadata.sequence.stream
            for line, record in enumerate(unpack(message.data)):
                if sequence == after_message and line <= after_line:
                    continue
                if query.until and record.at > query.until:
                    return AuditPage(found, 0)
                if query.matches(record):
                    if len(found) == query.limit:
                        return AuditPage(found, last_position)
                    found.append(record)
                last_position = sequence * POSITION_STRIDE + line
    return AuditPage(found, 0)
