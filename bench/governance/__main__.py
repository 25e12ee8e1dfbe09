"""`make bench-governance`: what governance costs each call, and how fast the audit log takes records.

Check per RPC: what a call by a queue-scoped supervisor goes through before its handler does any
work: the token verified and its tenant, role and region checked, the audit record queued
(`AccessControl.require`), the queue scope checked (`require_queue`), and a compliance decision
(`ccpolicy.evaluate` of a transcription against the eu consent rule and a quiet-hours rule).
Timed one call at a time on one core; the audit writer runs between calls, as it does between
requests in a service. A process checks a token's signature on its first call only; that first
verification is reported on its own (`token_first_verify_median_us`).

Audit append throughput: records queued by `AuditLog.append` until JetStream acknowledged all
of them on a real nats-server (single server, file storage, loopback).

Erasure: `bench/governance/erasure.py`'s `measure()` (erasure time of a customer with 10,000
events) is added to the report (`--no-erasure` skips it).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nats

from bench.governance.erasure import measure as measure_erasure
from bench.report import Goal, percentile, print_report
from ccmesh.access import AccessControl
from ccmesh.audit import AuditLog, AuditRecord
from ccmesh.auth import TokenAuthority
from ccmesh.retention import BY_KEY
from ccmesh.rpc_context import NatsServicerContext, current_method, current_request
from ccmesh.stores import ensure_store
from ccmesh.testing.topologies import single_server
from ccpolicy import Action, ConsentRule, Purpose, QuietHoursRule, RuleSet, Situation, evaluate
from contactcenter.routing.v1 import routing_pb2

REGION = "eu"
SECRET = "bench-governance-secret"
STATS = "/contactcenter.routing.v1.RoutingService/GetQueueStats"
RULES = RuleSet(
    (
        ConsentRule("eu-consent", frozenset({REGION}), frozenset({Purpose.RECORDING, Purpose.TRANSCRIPTION})),
        QuietHoursRule("quiet-hours", frozenset({REGION})),
    ),
    version="bench",
)


async def measure_checks(log: AuditLog, calls: int) -> dict[str, float]:
    authority = TokenAuthority(SECRET)
    access = AccessControl(authority, region=REGION, audit=log)
    token = authority.mint("acme", "supervisor", "sam", queues=["billing", "sales"], regions=[REGION])
    context = NatsServicerContext({"authorization": f"Bearer {token}"}, deadline=1e12, peer="bench")
    current_method.set(STATS)
    current_request.set(routing_pb2.GetQueueStatsRequest(tenant_id="acme", queue="billing"))
    situation = Situation(
        region=REGION, consents={"transcription": True}, at=datetime(2026, 3, 2, 12, tzinfo=UTC)
    )
    roles = frozenset({"supervisor", "admin"})
    permission: list[float] = []
    policy: list[float] = []
    combined: list[float] = []
    for i in range(calls):
        started = time.perf_counter_ns()
        caller = await access.require(context, "acme", roles)
        await access.require_queue(context, caller, "billing")
        checked = time.perf_counter_ns()
        decision = evaluate(RULES, Action.TRANSCRIBE, situation)
        done = time.perf_counter_ns()
        assert decision.allowed
        permission.append((checked - started) / 1000)
        policy.append((done - checked) / 1000)
        combined.append((done - started) / 1000)
        if i % 200 == 199:
            await asyncio.sleep(0)  # the audit writer's turn, as between requests
    await log.flush()
    # A token's first call in a process also checks its signature (later calls find it verified).
    fresh = [
        authority.mint("acme", "agent", f"agent-{i}", queues=["billing"]) for i in range(min(calls, 5000))
    ]
    first: list[float] = []
    for token in fresh:
        started = time.perf_counter_ns()
        authority.verify(token)
        first.append((time.perf_counter_ns() - started) / 1000)
    return {
        "token_first_verify_median_us": statistics.median(first),
        "check_calls": calls,
        "permission_check_median_us": statistics.median(permission),
        "permission_check_p99_us": percentile(permission, 0.99),
        "policy_evaluation_median_us": statistics.median(policy),
        "policy_evaluation_p99_us": percentile(policy, 0.99),
        "check_per_rpc_median_us": statistics.median(combined),
        "check_per_rpc_p99_us": percentile(combined, 0.99),
    }


async def measure_appends(log: AuditLog, records: int) -> dict[str, float]:
    written_before = log.written
    started = time.perf_counter()
    for i in range(records):
        await log.append(
            AuditRecord(
                at=time.time(),
                region=REGION,
                tenant_id="acme",
                actor=f"agent-{i % 50}",
                role="agent",
                action=STATS,
                target=f"queue=q{i % 20}",
            )
        )
    queued = time.perf_counter()
    await log.flush()
    finished = time.perf_counter()
    assert log.written - written_before == records
    return {
        "audit_records": records,
        "audit_append_queue_per_second": records / (queued - started),
        "audit_appends_per_second": records / (finished - started),
    }


async def run(calls: int, records: int, erasure: bool) -> None:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as root:
        topology = single_server(Path(root) / "nats")
        try:
            nc = await nats.connect(topology.urls[0])
            js = nc.jetstream()
            await ensure_store(js, BY_KEY["auditLog"], REGION, BY_KEY["auditLog"].defaults)
            log = AuditLog(js, REGION)
            log.start()
            results.update(await measure_checks(log, calls))
            results.update(await measure_appends(log, records))
            await log.stop()
            await nc.drain()
        finally:
            topology.stop_all()
    goals = [
        Goal("check_per_rpc_median_us", "<", 20.0, results["check_per_rpc_median_us"]),
    ]
    if erasure:
        measured = await measure_erasure()
        results["erasure_seconds"] = measured["erasure_seconds"]
        results["erasure_events"] = measured["events"]
        goals.append(Goal("erasure_seconds", "<", 60.0, measured["erasure_seconds"]))
    print_report("governance", results, goals)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000, help="checked calls to time (default 20000)")
    parser.add_argument("--records", type=int, default=50_000, help="audit records to append (default 50000)")
    parser.add_argument("--no-erasure", action="store_true", help="skip the erasure measurement")
    args = parser.parse_args()
    asyncio.run(run(args.calls, args.records, not args.no_erasure))


if __name__ == "__main__":
    main()
