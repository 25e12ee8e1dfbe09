"""Shared pieces of the ACD integration tests: routing instances on their own connections,
and a watcher that checks every revision of every agent ledger for over-booking."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import nats
from nats.aio.client import Client as NATS

from ccmesh import naming
from ccmesh.channels import Channel
from ccmesh.events import EventPublisher
from ccmesh.kv import ensure_bucket
from routing.adapters.acd_codec import contact_from_bytes, ledger_from_bytes
from routing.adapters.acd_publisher import AcdPublisher
from routing.adapters.acd_store import AcdStore, KeyMirror
from routing.domain.agents import AgentLoad
from routing.domain.contacts import ContactRecord, ContactStatus
from routing.service_layer.acd import AcdService, AcdSettings

REGION = "eu"
TENANT = "acme"


def announcing(js: Any, store: AcdStore) -> AcdPublisher:
    """What the service publishes its events with, as routing's bootstrap does: each one on the
    region stream, then marked sent (the outbox's sweeper leaves it)."""
    return AcdPublisher(EventPublisher(js, REGION), REGION, store.sent)


@dataclass
class Instance:
    nc: NATS
    service: AcdService


async def start_instance(nats_url: str, settings: AcdSettings, *, run: bool = True) -> Instance:
    nc = await nats.connect(nats_url, max_reconnect_attempts=3)
    kv = await ensure_bucket(nc.jetstream(), naming.acd_bucket(REGION), history=1)
    service = AcdService(AcdStore(kv), KeyMirror(kv), settings)
    if run:
        await service.start()
    return Instance(nc, service)


async def stop_instance(instance: Instance) -> None:
    await instance.service.stop()
    with contextlib.suppress(Exception):
        await instance.nc.drain()


def over_capacity(raw: bytes) -> str | None:
    ledger = ledger_from_bytes(raw)
    load: AgentLoad = ledger.load()
    profile = ledger.profile
    for channel in Channel:
        if load.count(channel) > profile.capacity.get(channel, 0):
            limit = profile.capacity.get(channel, 0)
            return f"{profile.agent_id}: {load.count(channel)} {channel.value} > {limit}"
    for group in profile.groups:
        if group.used(load.active) > group.capacity:
            return f"{profile.agent_id}: {group.used(load.active)} {group.name} > {group.capacity}"
    if profile.voice_blocks_other_work and load.count(Channel.VOICE) and load.total() > 1:
        return f"{profile.agent_id}: voice with other work {dict(load.active)}"
    return None


@dataclass
class Observer:
    """Sees every revision of the bucket (an ordered consumer delivers each message)."""

    violations: list[str] = field(default_factory=list)
    contacts: dict[str, ContactRecord] = field(default_factory=dict)
    offers_seen: set[str] = field(default_factory=set)
    new_offers: asyncio.Queue[ContactRecord] = field(default_factory=asyncio.Queue)
    statuses: Counter[str] = field(default_factory=Counter)
    _task: asyncio.Task[None] | None = None

    async def start(self, nc: NATS) -> None:
        kv = await ensure_bucket(nc.jetstream(), naming.acd_bucket(REGION), history=1)
        watcher = await kv.watch("*.*.*")
        self._task = asyncio.create_task(self._run(watcher))

    async def _run(self, watcher: Any) -> None:
        async for entry in watcher:
            if entry is None or not entry.value:
                continue
            kind = entry.key.split(".", 1)[0]
            if kind == "agent":
                problem = over_capacity(entry.value)
                if problem:
                    self.violations.append(problem)
            elif kind == "contact":
                record = contact_from_bytes(entry.value)
                self.contacts[record.contact.contact_id] = record
                if record.status is ContactStatus.OFFERED and record.reservation_id not in self.offers_seen:
                    self.offers_seen.add(record.reservation_id)
                    self.new_offers.put_nowait(record)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def count(self, status: ContactStatus) -> int:
        return sum(1 for r in self.contacts.values() if r.status is status)
