"""A provider message claimed by a gateway that was killed is taken over because its holder is
gone, not because a fixed expiry ran out.

A real gateway process claims a message and hangs in the identity call (identity answers
nothing), then gets SIGKILL. A second gateway, started with a claim expiry far beyond the test,
accepts the provider's retry of the same message: only the dead holder can have let it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from _platform import REGION, SECRET, Platform, eventually
from nats.aio.client import Client as NATS
from nats.js.errors import KeyNotFoundError

from ccmesh import naming
from ccmesh.channels import Channel, to_kind
from ccmesh.kv import ensure_bucket
from ccmesh.presence import Liveness, Presence, presence_of
from ccmesh.rpc_client import MeshChannel, mesh_stub
from contactcenter.common.v1 import common_pb2
from contactcenter.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from gateway.adapters.contact_store import ContactStore, StillProcessing
from gateway.domain.inbound import InboundMessage

#: Far beyond the test's own bounds: the expiry cannot be what frees the claim.
NEVER_SECONDS = 10_000_000.0
#: Generous bounds against hanging, not timing assertions.
WAIT_SECONDS = 20.0
SENDER = "+4915100000077"
SMS = to_kind(Channel.SMS)
PROVIDER_MESSAGE_ID = "SM-held-by-the-dead"


def inbound() -> gateway_pb2.SubmitInboundMessageRequest:
    return gateway_pb2.SubmitInboundMessageRequest(
        tenant=common_pb2.TenantRef(tenant_id="acme", brand_id="acme-retail"),
        channel=SMS,  # type: ignore[arg-type]
        entry_point="+4930111111",
        text="Is my order on its way?",
        provider_message_id=PROVIDER_MESSAGE_ID,
        **{"from": common_pb2.Identifier(kind=common_pb2.IDENTIFIER_KIND_PHONE, value=SENDER)},
    )


def claim_key() -> str:
    message = InboundMessage(
        tenant_id="acme",
        brand_id="acme-retail",
        channel=SMS,
        from_kind=common_pb2.IDENTIFIER_KIND_PHONE,
        from_value=SENDER,
        entry_point="+4930111111",
        text="",
        provider_message_id=PROVIDER_MESSAGE_ID,
    )
    return f"msg.acme.{message.idempotency_token()}"


def gateway_stub(platform: Platform) -> Any:
    channel = MeshChannel(platform.nc, REGION, token=platform.token(), default_timeout=WAIT_SECONDS)
    return mesh_stub(gateway_pb2_grpc.GatewayServiceStub, channel)


@pytest.fixture
async def gateway_process(platform: Platform) -> AsyncIterator[asyncio.subprocess.Process]:
    """A gateway in its own process, as `ccctl up` starts it."""
    env = {
        **os.environ,
        "CC_REGION": REGION,
        "CC_NATS_URL": platform.nats_url,
        "CC_AUTH_SECRET": SECRET,
        "CC_GRPC_PORT": "-1",
        "CC_INSTANCE_NAME": "gateway-doomed",
        "CC_DEFAULT_DEADLINE_SECONDS": str(WAIT_SECONDS * 3),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", env=env, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert process.stdout is not None
        async with asyncio.timeout(WAIT_SECONDS):
            while b'"ready":"gateway"' not in await process.stdout.readline():
                pass
        yield process
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


async def test_a_claim_of_a_killed_gateway_is_taken_over_by_the_next_one(
    platform: Platform, nc: NATS, gateway_process: asyncio.subprocess.Process
) -> None:
    # Identity takes every request and answers none: the gateway holds its claim meanwhile.
    silent_identity = await nc.subscribe(naming.rpc_wildcard(REGION, "identity"), queue="identity")
    gateway = gateway_stub(platform)
    first_try = asyncio.create_task(gateway.SubmitInboundMessage(inbound()))
    bucket = await nc.jetstream().key_value(naming.gateway_bucket(REGION))

    async def claimed() -> dict[str, Any] | None:
        try:
            entry = await bucket.get(claim_key())
        except KeyNotFoundError:
            return None
        record: dict[str, Any] = orjson.loads(entry.value or b"{}")
        return record if record.get("state") == "pending" else None

    held = await eventually(claimed, seconds=WAIT_SECONDS)
    assert held.get("holder"), f"the claim names no holder: {held}"

    # While its holder lives, another instance leaves the claim alone, however old it gets.
    presence = Presence(nc)
    await presence.start()
    other = ContactStore(bucket, holders=presence, claim_expiry=NEVER_SECONDS)
    with pytest.raises(StillProcessing):
        await other.claim_message("acme", claim_key().rsplit(".", 1)[1])

    gateway_process.send_signal(signal.SIGKILL)
    await gateway_process.wait()
    first_try.cancel()
    await asyncio.gather(first_try, return_exceptions=True)
    await silent_identity.unsubscribe()
    await presence.stop()

    # The provider retries at the next gateway: it takes the dead holder's claim over.
    await platform.start("identity", "gateway", settings={"gateway": {"claim_expiry_seconds": NEVER_SECONDS}})
    retried = await gateway_stub(platform).SubmitInboundMessage(inbound())

    assert retried.contact_id and retried.message_id
    assert not retried.duplicate
    record = orjson.loads((await bucket.get(claim_key())).value or b"{}")
    assert record["state"] == "done"
    assert record["result"]["contact_id"] == retried.contact_id


class UnansweredHolders:
    """A holder whose liveness cannot be told (it does not answer in time)."""

    def __init__(self, holder: str) -> None:
        self.holder = holder
        self.asked: list[str] = []

    async def liveness_of(self, holder: str) -> Liveness:
        self.asked.append(holder)
        return Liveness.UNKNOWN


async def test_presence_answers_while_started_and_is_gone_once_stopped(nc: NATS) -> None:
    presence = Presence(nc)
    await presence.start()
    assert await presence_of(nc, presence.holder) is Liveness.ALIVE
    await presence.stop()
    assert await presence_of(nc, presence.holder, confirm_after=0) is Liveness.GONE


async def test_a_restarted_process_takes_over_what_its_previous_life_claimed(nc: NATS) -> None:
    bucket = await ensure_bucket(nc.jetstream(), "gateway-claims")
    before = Presence(nc)
    await before.start()
    held = await ContactStore(bucket, holders=before, claim_expiry=NEVER_SECONDS).claim_message("acme", "t1")
    await before.stop()  # the process ends; its successor has a new holder id

    after = Presence(nc)
    await after.start()
    try:
        store = ContactStore(bucket, holders=after, claim_expiry=NEVER_SECONDS)
        taken = await store.claim_message("acme", "t1")
        assert taken.revision > held.revision and taken.previous is None
        # Now the successor's own claim, still in flight: a second request waits for it.
        with pytest.raises(StillProcessing):
            await store.claim_message("acme", "t1")
    finally:
        await after.stop()


async def test_a_holder_that_cannot_be_asked_keeps_its_claim_until_the_expiry(nc: NATS) -> None:
    bucket = await ensure_bucket(nc.jetstream(), "gateway-claims")
    await ContactStore(bucket, holders=UnansweredHolders("first")).claim_message("acme", "t2")
    unanswered = UnansweredHolders("second")

    with pytest.raises(StillProcessing):
        await ContactStore(bucket, holders=unanswered, claim_expiry=NEVER_SECONDS).claim_message("acme", "t2")
    assert unanswered.asked == ["first"]
    # The upper bound still holds for such a claim (here: already passed).
    taken = await ContactStore(bucket, holders=unanswered, claim_expiry=0.0).claim_message("acme", "t2")
    assert taken.previous is None
