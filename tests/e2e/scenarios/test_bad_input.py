"""Bad input from admins: overflow and closed-queue rules that name queues or regions that do not
exist are refused with an error naming the field, and nothing already accepted is lost.

The admin works as they would: `ccctl apply -f` for a ContactCenter's overflow rules, routing's
`ConfigureQueue` for a queue's hours and closed action.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml

from ccctl.main import main as ccctl
from ccmesh.configplane.contactcenter import ContactCenter
from ccmesh.configplane.loader import metadata_of
from ccmesh.configplane.store import ConfigStore
from ccmesh.status import RpcError
from contactcenter.routing.v1 import routing_pb2, routing_pb2_grpc
from tests.e2e.harness import EXAMPLES, RunningRegion
from tests.e2e.scenarios._regions import closed_today


def _eu_with_overflow(tmp_path: Path, **rule: Any) -> Path:
    document = yaml.safe_load((EXAMPLES / "eu.yaml").read_text())
    document["spec"]["routing"] = {
        "overflow": [
            {
                "name": "bad-rule",
                "tenant": "acme",
                "queue": "support",
                "targetQueue": "support",
                "action": "move",
                "waitSecondsOver": 60,
                **rule,
            }
        ]
    }
    path = tmp_path / "eu-overflow.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


async def _stored_eu(region: RunningRegion) -> ContactCenter:
    async with region.connect() as nc:
        store = await ConfigStore.open(nc.jetstream())
        found = [d for d in await store.list("ContactCenter") if metadata_of(d).name == "eu"]
    assert len(found) == 1 and isinstance(found[0], ContactCenter)
    return found[0]


@pytest.mark.parametrize(
    ("rule", "named"),
    [
        ({"targetRegion": "mars"}, ["bad-rule", "targetRegion", "'mars'"]),
        ({"targetRegion": "latam"}, ["bad-rule", "targetRegion", "'latam'"]),  # residency: not listed
        ({"targetQueue": "no-such-queue"}, ["overflow[0].targetQueue", "'no-such-queue'"]),
        ({"queue": "ghost-queue"}, ["overflow[0].queue", "'ghost-queue'"]),
    ],
)
async def test_overflow_rules_naming_unknown_queues_or_regions_are_refused(
    e2e_region: RunningRegion,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    rule: dict[str, Any],
    named: list[str],
) -> None:
    if rule.get("targetRegion") == "latam":
        # eu's example lists latam as pseudonymous; take it out so the residency forbids it.
        path = _eu_with_overflow(tmp_path, **rule)
        document = yaml.safe_load(path.read_text())
        for tenant in document["spec"]["tenants"]:
            tenant["residency"]["pseudonymousRegions"] = ["us"]
        path.write_text(yaml.safe_dump(document, sort_keys=False))
    else:
        path = _eu_with_overflow(tmp_path, **rule)
    before = await _stored_eu(e2e_region)
    monkeypatch.setenv("CC_AUTH_SECRET", e2e_region.secret)
    code = await asyncio.to_thread(ccctl, ["apply", "-f", str(path), "--nats-url", e2e_region.nats_url])
    captured = capsys.readouterr()
    assert code != 0, captured.out
    for part in named:
        assert part in captured.err, captured.err
    after = await _stored_eu(e2e_region)
    # Nothing already accepted is lost: the stored ContactCenter is the one from before.
    assert after.metadata.generation == before.metadata.generation
    assert after.spec == before.spec


async def test_a_valid_overflow_rule_is_applied(
    e2e_region: RunningRegion, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same path accepts a rule whose queues exist (so the refusals above are about the input)."""
    path = _eu_with_overflow(tmp_path, targetRegion="us")
    monkeypatch.setenv("CC_AUTH_SECRET", e2e_region.secret)
    # us runs no routing here: its queue cannot be checked, which is noted and not refused.
    assert await asyncio.to_thread(ccctl, ["apply", "-f", str(path), "--nats-url", e2e_region.nats_url]) == 0
    stored = await _stored_eu(e2e_region)
    assert [r.name for r in stored.spec.routing.overflow] == ["bad-rule"]


@pytest.mark.parametrize(
    ("hours", "named"),
    [
        (closed_today("Europe/London", "queue", "no-such-queue"), "closed_target_queue"),
        (closed_today("Mars/Olympus_Mons", "message"), "time_zone"),
        (closed_today("Europe/London", "teleport"), "closed_action"),
    ],
)
async def test_closed_queue_rules_naming_unknown_queues_are_refused(
    e2e_region: RunningRegion, hours: routing_pb2.QueueHours, named: str
) -> None:
    async with e2e_region.connect() as nc:
        routing = e2e_region.stub(nc, routing_pb2_grpc.RoutingServiceStub, e2e_region.token("admin"))
        before = await routing.ListQueues(routing_pb2.ListQueuesRequest(tenant_id="acme"))
        with pytest.raises(RpcError) as refused:
            await routing.ConfigureQueue(
                routing_pb2.ConfigureQueueRequest(
                    tenant_id="acme",
                    queue=routing_pb2.QueueDefinition(name="support", brand="acme-retail", hours=hours),
                )
            )
        assert refused.value.code == grpc.StatusCode.INVALID_ARGUMENT
        assert named in refused.value.message
        after = await routing.ListQueues(routing_pb2.ListQueuesRequest(tenant_id="acme"))
    assert list(after.queues) == list(before.queues)


async def test_a_closed_queue_rule_naming_another_region_must_name_a_known_one(
    e2e_region: RunningRegion,
) -> None:
    hours = closed_today("Europe/London", "queue", "support")
    hours.closed_target_region = "mars"
    async with e2e_region.connect() as nc:
        routing = e2e_region.stub(nc, routing_pb2_grpc.RoutingServiceStub, e2e_region.token("admin"))
        with pytest.raises(RpcError) as refused:
            await routing.ConfigureQueue(
                routing_pb2.ConfigureQueueRequest(
                    tenant_id="acme",
                    queue=routing_pb2.QueueDefinition(
                        name="after-hours-mars", brand="acme-retail", hours=hours
                    ),
                )
            )
    assert refused.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "closed_target_region" in refused.value.message and "mars" in refused.value.message
