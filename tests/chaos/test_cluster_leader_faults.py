"""The production setting: a 3-node JetStream cluster, every stream and bucket at three replicas
(`CC_STREAM_REPLICAS=3`). Under load, the server leading a region stream is SIGKILLed and comes
back on its store, until every region stream (the event stream, every bucket and object store)
has lost its leader once. Then every contact whose webhook was accepted was offered, accepted
once and closed, none was offered twice at once, and no agent held more than its capacity."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.platform.fault_audit import audit
from bench.platform.faults import (
    close_fault_run,
    error_lines,
    kill_leader_of,
    open_fault_run,
    region_stream_leaders,
    settle,
    unsent_announcements,
    warm_up,
)
from bench.platform.region import REGION
from ccmesh import naming

pytestmark = pytest.mark.timeout(600)

RATE = 8.0
LOAD_SECONDS = 12.0
FAULT_AFTER = 3.0
#: The recovery bound: every contact offered, accepted and closed within this after the load.
SETTLE_SECONDS = 90.0


async def test_leader_of_each_region_stream_killed(tmp_path: Path) -> None:
    run = await open_fault_run(tmp_path, cluster=True)
    try:
        await warm_up(run)
        leaders = await region_stream_leaders(run)
        events = naming.events_stream(REGION).name
        assert events in leaders, f"no leader known for {events}: {leaders}"
        # The event stream first: every contact's story is told there.
        order = [events, *sorted(s for s in leaders if s != events)]
        lost_leader: set[str] = set()
        phases = []
        while pending := [s for s in order if s not in lost_leader and s in leaders]:
            stream = pending[0]

            async def fault(stream: str = stream) -> dict[str, object]:
                return await kill_leader_of(run, stream)

            phase = await run.phase(RATE, LOAD_SECONDS, fault, FAULT_AFTER)
            lost_leader.update(phase.fault_detail["led"])
            phases.append(phase)
            leaders = await region_stream_leaders(run)
        # At most one kill per server: each takes every stream its server led at the time.
        assert 1 <= len(phases) <= len(order)
        contacts = [c for phase in phases for c in phase.contacts]
        assert len(contacts) >= len(phases) * RATE * FAULT_AFTER / 2, [p.answer["statuses"] for p in phases]
        stories = await settle(run, contacts, SETTLE_SECONDS)
        found = audit(contacts, run.log, stories)
        killed = [p.fault_detail["server"] + " leading " + ", ".join(p.fault_detail["led"]) for p in phases]
        unsent = [] if found.ok else await unsent_announcements(run)
        assert found.ok, (
            f"after killing {killed}: {found.explain(run.log, stories)}\n"
            f"webhook statuses {[p.answer['statuses'] for p in phases]}; agent errors {run.log.errors}\n"
            f"still in the ACD's outboxes: {unsent}\n"
            f"service logs: {error_lines(run)}"
        )
    finally:
        await close_fault_run(run)
