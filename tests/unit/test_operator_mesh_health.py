"""The verdict on a region's mesh, from what the data plane found, and its place among the conditions."""

from __future__ import annotations

from ccoperator import nats_health
from ccoperator.nats_health import NOT_OBSERVED, MeshHealth, judge_placement
from ccoperator.nats_placement import PlacementFound
from ccoperator.status import Observation, ServiceReplicas, build_status

EU = ("region:eu",)


def placed(
    name: str,
    servers: tuple[str, ...] = ("eu-n1", "eu-n2", "eu-n3"),
    tags: tuple[str, ...] = EU,
    replicas: int = 3,
    lagging: tuple[str, ...] = (),
    cluster: str = "eu",
) -> PlacementFound:
    return PlacementFound(
        name=name, cluster=cluster, servers=servers, tags=tags, replicas=replicas, lagging=lagging
    )


def test_every_stream_tagged_and_fully_replicated_is_healthy() -> None:
    health = judge_placement("eu", 3, [placed("events-eu"), placed("KV_acd-eu")])
    assert health == MeshHealth(
        True,
        nats_health.HEALTHY,
        "JetStream on; 2 streams and buckets on servers tagged region:eu, 3 replicas each",
    )


def test_a_stream_without_the_region_tag_is_misplaced_and_named() -> None:
    health = judge_placement(
        "eu",
        3,
        [placed("events-eu"), placed("KV_acd-eu", tags=(), cluster="us", servers=("us-n1",), replicas=1)],
    )
    assert not health.healthy
    assert health.reason == nats_health.STREAMS_MISPLACED
    assert health.message == "not placed with tag region:eu: KV_acd-eu (tags: none; cluster us: us-n1)"


def test_misplacement_is_reported_before_missing_replicas() -> None:
    health = judge_placement("eu", 3, [placed("events-eu", tags=("region:us",), replicas=1)])
    assert health.reason == nats_health.STREAMS_MISPLACED


def test_fewer_replicas_than_configured_is_under_replicated() -> None:
    health = judge_placement("eu", 3, [placed("events-eu", servers=("eu-n1",), replicas=1)])
    assert not health.healthy
    assert health.reason == nats_health.STREAMS_UNDER_REPLICATED
    assert health.message == "want 3 replicas: events-eu (1/3 current replicas, configured with 1)"


def test_a_lagging_or_offline_replica_does_not_count() -> None:
    health = judge_placement("eu", 3, [placed("events-eu", lagging=("eu-n3",))])
    assert health.reason == nats_health.STREAMS_UNDER_REPLICATED
    assert "2/3 current replicas, lagging or offline: eu-n3" in health.message


def test_nothing_found_is_not_healthy() -> None:
    health = judge_placement("eu", 1, [])
    assert (health.healthy, health.reason) == (False, nats_health.PLACEMENT_FAILED)


def test_condition_joins_ready_progressing_and_degraded() -> None:
    services = {"routing": ServiceReplicas(ready=1, desired=1)}
    unhealthy = MeshHealth(False, nats_health.JETSTREAM_DISABLED, "JetStream is not enabled")
    status = build_status(Observation(generation=4, now="t", services=services, nats_health=unhealthy))
    by_type = {c["type"]: c for c in status["conditions"]}
    assert set(by_type) == {"Ready", "Progressing", "Degraded", nats_health.CONDITION}
    assert by_type[nats_health.CONDITION] == {
        "type": "NatsHealthy",
        "status": "False",
        "reason": "JetStreamDisabled",
        "message": "JetStream is not enabled",
        "observedGeneration": 4,
        "lastTransitionTime": "t",
    }


def test_unmanaged_nats_is_unknown_not_false() -> None:
    condition = NOT_OBSERVED.as_condition(1)
    assert (condition["status"], condition["reason"]) == ("Unknown", nats_health.NOT_MANAGED)


def test_without_an_observation_there_is_no_mesh_condition() -> None:
    status = build_status(Observation(generation=1, now="t"))
    assert nats_health.CONDITION not in {c["type"] for c in status["conditions"]}
