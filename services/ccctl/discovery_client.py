"""Ask every mesh service instance about itself over NATS micro discovery."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg

PLATFORM_SERVICES = ("identity", "routing", "gateway", "ai", "integration")


@dataclass(frozen=True)
class Instance:
    name: str
    instance_id: str
    version: str
    region: str
    status: str
    endpoints: int


async def discover(nc: Client, wait_seconds: float = 0.5) -> list[Instance]:
    """Every instance that answers `$SRV.INFO` within `wait_seconds`."""
    found: list[Instance] = []
    inbox = nc.new_inbox()

    async def collect(msg: Msg) -> None:
        try:
            info = orjson.loads(msg.data)
        except orjson.JSONDecodeError:
            return
        metadata = info.get("metadata") or {}
        found.append(
            Instance(
                name=str(info.get("name", "?")),
                instance_id=str(info.get("id", "?")),
                version=str(info.get("version", "?")),
                region=str(metadata.get("region", "?")),
                status=str(metadata.get("status", "SERVING")),
                endpoints=len(info.get("endpoints") or []),
            )
        )

    subscription = await nc.subscribe(inbox, cb=collect)
    await nc.publish("$SRV.INFO", b"", reply=inbox)
    await nc.flush()
    await asyncio.sleep(wait_seconds)
    await subscription.unsubscribe()
    return found


@dataclass(frozen=True)
class ServiceRow:
    service: str
    region: str
    instances: int
    version: str
    status: str


def summarize(instances: list[Instance], regions: list[str]) -> list[ServiceRow]:
    """One row per platform service and region; a service nobody answers for is DOWN."""
    rows = []
    seen_regions = sorted({i.region for i in instances} | set(regions))
    for region in seen_regions:
        for service in PLATFORM_SERVICES:
            mine = [i for i in instances if i.name == service and i.region == region]
            serving = [i for i in mine if i.status == "SERVING"]
            status = "SERVING" if serving else ("DRAINING" if mine else "DOWN")
            versions = ",".join(sorted({i.version for i in mine})) or "-"
            rows.append(ServiceRow(service, region, len(serving), versions, status))
    return rows
