"""Right to erasure on the platform `ccctl up` starts, as a data protection officer uses it.

A customer writes by SMS (a signed Twilio webhook) quoting their e-mail, alice accepts, replies
and wraps up (a ticket and a summary are made), a call recording is stored under the contact,
the customer consents to recording and marketing, the contact reaches the integration
service's analytics store (Parquet) and one of its events is dead-lettered. `ccctl retention
forget` erases the customer within the minute and writes a signed report counting the consent
records, the analytics rows and the dead letter; `ccctl retention verify` accepts it and refuses a
changed copy. Then a byte scan of every stream, bucket and object store on the region's
nats-server finds neither the phone number nor the e-mail address nor a consent record, and the
analytics store no longer names the customer; the AI service's in-memory caches of recent texts
were cleared.
"""

from __future__ import annotations

import asyncio
import io
import os
import time
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest
from nats.js.api import DeliverPolicy

from ccmesh import naming
from ccsandbox.client import SandboxClient
from contactcenter.common.v1 import common_pb2
from contactcenter.identity.v1 import identity_pb2
from contactcenter.identity.v1.identity_pb2_grpc import IdentityServiceStub
from integration.adapters.dead_letters import DeadLetterStore
from tests.e2e.channels.test_each_channel import accept, reply_and_wrap_up
from tests.e2e.harness import RunningRegion, eventually

pytestmark = pytest.mark.timeout(300)

#: The issue's bound for an erasure.
ERASURE_SECONDS = 60


async def every_message(region: RunningRegion) -> bytes:
    """Subject and data of every message of every stream (so every bucket and object store)."""
    found: list[bytes] = []
    async with region.connect() as nc:
        js = nc.jetstream()
        for info in await js.streams_info():
            if not info.state.messages:
                continue
            sub = await js.subscribe(
                ">", stream=info.config.name, ordered_consumer=True, deliver_policy=DeliverPolicy.ALL
            )
            try:
                while True:
                    message = await sub.next_msg(timeout=5)
                    found.append(message.subject.encode() + b" " + (message.data or b""))
                    if message.metadata.num_pending == 0:
                        break
            finally:
                await sub.unsubscribe()
    return b"\n".join(found)


def analytics_naming(region: RunningRegion, customer_id: str) -> int | None:
    """Rows and files of the region's analytics stores that name the customer (None: a file
    was rewritten while read, read again). Parquet is compressed: its rows are read."""
    found = 0
    for path in region.plan.data_dir.glob("analytics/**/*"):
        try:
            if path.suffix == ".parquet":
                table = pq.read_table(path)
                found += sum(table[name].to_pylist().count(customer_id) for name in table.column_names)
            elif path.is_file():
                found += customer_id.encode() in path.read_bytes()
        except FileNotFoundError:
            return None
    return found


def consent_records(scan: bytes, customer_id: str) -> list[bytes]:
    """The scan's consent records of the customer that still hold data (purge markers hold none)."""
    lines = scan.split(b"\n")
    return [
        line
        for line in lines
        if (b".cn." in line or b".cnow." in line)
        and f".{customer_id}".encode() in line.split(b" ", 1)[0]
        and line.split(b" ", 1)[1:] != [b""]
    ]


async def test_forget_customer_leaves_no_identifier_anywhere_and_signs_its_report(
    e2e_region: RunningRegion, sandbox: SandboxClient, tmp_path: Path
) -> None:
    digits = "7700900" + str(int.from_bytes(os.urandom(2), "big") % 900 + 100)
    phone, email = f"+44{digits}", f"forget.{digits}@example.org"
    async with e2e_region.http() as http:
        alice = await e2e_region.agent(http, "alice")
        status, _ = await e2e_region.sms(http, phone, f"Please send the refund form to {email}")
        assert status == 200
        offer = await accept(alice, "sms")
        contact_id = offer["contactId"]
        await reply_and_wrap_up(e2e_region, alice, contact_id, "Sent, have a good day.")
        await sandbox.wait_for(lambda m: m["kind"] == "sms" and m["to"] == phone)
        await alice.ws.close()
    (created,) = await e2e_region.wait_event("contact_created", contact_id)
    customer_id, brand = created.contact_created.customer_id, created.tenant.brand_id
    async with e2e_region.connect() as nc:
        recordings = await nc.jetstream().object_store(naming.attachments_bucket(e2e_region.region))
        await recordings.put(
            f"acme/{contact_id}/call-recording.wav", io.BytesIO(b"RIFF" + os.urandom(64_000))
        )
        # Consent given by the customer, and one of the contact's events dead-lettered.
        admin = e2e_region.stub(nc, IdentityServiceStub, e2e_region.token("admin"))
        for purpose in ("recording", "marketing"):
            await admin.RecordConsent(
                identity_pb2.RecordConsentRequest(
                    tenant=common_pb2.TenantRef(tenant_id="acme", brand_id=brand),
                    customer_id=customer_id,
                    purpose=purpose,
                    channel=common_pb2.CHANNEL_KIND_SMS,
                    policy_version="2026-01",
                    source="sms",
                    contact_id=contact_id,
                )
            )
        integration_kv = await nc.jetstream().key_value(naming.integration_bucket(e2e_region.region))
        dead_letters = DeadLetterStore(integration_kv)
        await dead_letters.put("acme", "crm-hook", created, 5, "HTTP 500 from the CRM")
    await eventually(lambda: asyncio.to_thread(lambda: analytics_naming(e2e_region, customer_id) or None))
    before = await every_message(e2e_region)
    assert phone.encode() in before and email.encode() in before  # the scan can fail
    assert len(consent_records(before, customer_id)) >= 2

    report = tmp_path / "erasure.json"
    started = time.monotonic()
    forget = await asyncio.to_thread(
        e2e_region.ccctl,
        *("retention", "forget", "--tenant", "acme", "--brand", brand, "--customer", customer_id),
        *("--reason", "GDPR art. 17 request 2026-118", "--report", str(report)),
        *("--nats-url", e2e_region.nats_url),
    )
    assert forget.returncode == 0, forget.stdout + forget.stderr
    assert time.monotonic() - started < ERASURE_SECONDS
    assert f"erased customer {customer_id}" in forget.stdout

    signed = orjson.loads(report.read_bytes())
    document = orjson.loads(signed["report"])
    assert document["customerId"] == customer_id and document["actor"] == "ccctl"
    assert document["removed"][f"OBJ_{naming.attachments_bucket(e2e_region.region)}"] == 1
    assert document["removed"][naming.events_stream(e2e_region.region).name] >= 4
    # Integration's part: the analytics rows de-identified, the dead letter removed.
    assert document["removed"][f"analytics-{e2e_region.region}"] >= 1
    assert document["removed"][f"KV_{naming.integration_bucket(e2e_region.region)}"] >= 1
    # The AI service's part: its processes' remembered texts and words (the inference worker's
    # include the warm-up texts at least) are dropped.
    assert document["removed"][f"ai-caches-{e2e_region.region}"] >= 1
    assert "incomplete" not in document
    verified = await asyncio.to_thread(e2e_region.ccctl, "retention", "verify", str(report))
    assert verified.returncode == 0 and "valid" in verified.stdout, verified.stdout + verified.stderr
    tampered = tmp_path / "tampered.json"
    total = document["total"]
    tampered.write_bytes(
        orjson.dumps(
            {**signed, "report": signed["report"].replace(f'"total":{total}', f'"total":{total - 1}')}
        )
    )
    refused = await asyncio.to_thread(e2e_region.ccctl, "retention", "verify", str(tampered))
    assert refused.returncode == 1 and "does not match" in refused.stderr, refused.stdout + refused.stderr

    after = await every_message(e2e_region)
    for needle in (phone, email, digits):
        assert needle.encode() not in after, needle
    assert consent_records(after, customer_id) == []
    assert analytics_naming(e2e_region, customer_id) == 0
    async with e2e_region.connect() as nc:
        integration_kv = await nc.jetstream().key_value(naming.integration_bucket(e2e_region.region))
        assert await DeadLetterStore(integration_kv).list("acme", "crm-hook") == []
