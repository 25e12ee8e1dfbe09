"""Discovery counters and micro response shapes (ccmesh.discovery): no I/O."""

from __future__ import annotations

from nats.aio.client import Client as NATS

from ccmesh.discovery import Discovery, EndpointCounters


def _counters() -> EndpointCounters:
    return EndpointCounters(name="MeshTestService", subject="cc.eu.meshtest.v1.*", queue_group="meshtest")


def test_fresh_counters_report_zero_without_dividing_by_zero() -> None:
    stats = _counters().stats()
    assert (stats.num_requests, stats.num_errors, stats.average_processing_time) == (0, 0, 0)
    assert stats.last_error == ""


def test_counters_count_requests_errors_and_time() -> None:
    counters = _counters()
    counters.record(100, None)
    counters.record(300, "NOT_FOUND: gone")
    counters.record(200, None)
    stats = counters.stats()
    assert stats.num_requests == 3
    assert stats.num_errors == 1
    assert stats.processing_time == 600
    assert stats.average_processing_time == 200
    assert stats.last_error == "NOT_FOUND: gone"
    assert stats.subject == "cc.eu.meshtest.v1.*"
    assert stats.queue_group == "meshtest"


def test_info_and_stats_use_micro_schema_types() -> None:
    counters = _counters()
    counters.record(50, None)
    discovery = Discovery(
        NATS(),
        name="meshtest",
        instance_id="i-1",
        version="1.0.0",
        description="d",
        metadata={"region": "eu"},
        endpoints=[counters],
    )
    info = discovery.info().to_dict()
    assert info["type"] == "io.nats.micro.v1.info_response"
    assert info["endpoints"][0]["subject"] == "cc.eu.meshtest.v1.*"
    stats = discovery.stats().to_dict()
    assert stats["type"] == "io.nats.micro.v1.stats_response"
    assert stats["endpoints"][0]["num_requests"] == 1
    assert stats["started"].endswith("Z")
