"""Erasure reaches the object stores (recordings, attachments) and entries whose key alone names
the person, returns a report signed with the region's secret, and is refused while a legal hold
covers the person; releasing the hold leaves no trace of it."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import uuid
from typing import Any

import grpc
import orjson
import pytest
from _platform import SECRET, Platform, eventually
from nats.js.api import DeliverPolicy

from ccctl.main import main
from ccmesh import naming
from ccmesh.events import EventPublisher
from ccmesh.retention_erasure import ErasureReportError, verify
from ccmesh.retention_holds import holds_bucket
from ccmesh.status import RpcError
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from contactcenter.identity.v1 import identity_pb2 as pb
from contactcenter.identity.v1.identity_pb2_grpc import IdentityServiceStub

pytestmark = pytest.mark.timeout(90)

GLOBEX = common_pb2.TenantRef(tenant_id="globex", brand_id="globex")
PHONE = common_pb2.IDENTIFIER_KIND_PHONE


async def scan(platform: Platform) -> dict[str, list[bytes]]:
    """Subject + data of every message of every stream on the server."""
    js = platform.nc.jetstream()
    found: dict[str, list[bytes]] = {}
    for info in await js.streams_info():
        name = info.config.name
        found[name] = []
        if not info.state.messages:
            continue
        sub = await js.subscribe(">", stream=name, ordered_consumer=True, deliver_policy=DeliverPolicy.ALL)
        try:
            while True:
                message = await sub.next_msg(timeout=5)
                found[name].append(message.subject.encode() + b" " + (message.data or b""))
                if message.metadata.num_pending == 0:
                    break
        finally:
            await sub.unsubscribe()
    return found


async def person(identity: Any, platform: Platform, phone: str, email: str) -> tuple[str, str]:
    """A customer with a contact: two events, a recording and an attachment quoting the e-mail."""
    customer = (
        await identity.ResolveCustomer(
            pb.ResolveCustomerRequest(
                tenant=GLOBEX,
                identifiers=[
                    common_pb2.Identifier(kind=PHONE, value=phone),
                    common_pb2.Identifier(kind=common_pb2.IDENTIFIER_KIND_EMAIL, value=email),
                ],
            )
        )
    ).customer
    contact_id = uuid.uuid4().hex
    js = platform.nc.jetstream()
    base = {"tenant": GLOBEX, "region": "eu", "contact_id": contact_id, "source": "test"}
    publisher = EventPublisher(js, "eu")
    await publisher.publish(
        events_pb2.Event(
            event_id=uuid.uuid4().hex,
            contact_created=events_pb2.ContactCreated(
                channel=common_pb2.CHANNEL_KIND_SMS, customer_id=customer.customer_id, entry_point="support"
            ),
            **base,
        )
    )
    attachments = await js.object_store(naming.attachments_bucket("eu"))
    # A photo stored by content, as the gateway keeps attachments: only the event names it.
    photo = os.urandom(50_000)
    photo_name = f"globex/{hashlib.sha256(photo).hexdigest()}"
    await attachments.put(photo_name, io.BytesIO(photo))
    await publisher.publish(
        events_pb2.Event(
            event_id=uuid.uuid4().hex,
            message_received=events_pb2.MessageReceived(
                message_id=uuid.uuid4().hex,
                channel=common_pb2.CHANNEL_KIND_SMS,
                customer_id=customer.customer_id,
                text="see attachment",
                attachments=[
                    events_pb2.AttachmentRef(
                        filename="photo.jpg", bucket=naming.attachments_bucket("eu"), object=photo_name
                    )
                ],
            ),
            **base,
        )
    )
    # Audio never contains the identifiers: only its name ties it to the contact.
    await attachments.put(
        f"globex/{contact_id}/recording.wav", io.BytesIO(b"RIFF" + bytes(range(256)) * 2000)
    )
    # A text attachment with no name pointing at anyone: only its content (split across chunks) does.
    filler = b"x" * (128 * 1024 - 5)
    await attachments.put(
        f"globex/{uuid.uuid4().hex}/note.txt", io.BytesIO(filler + f"mail {email}".encode())
    )
    # A delivery-log entry whose key alone names the contact.
    integration = await js.key_value(naming.integration_bucket("eu"))
    await integration.put(f"dl.{contact_id}", b"delivered")
    return customer.customer_id, contact_id


async def test_forget_reaches_object_stores_and_keys_and_signs_its_report(platform: Platform) -> None:
    await platform.start("identity")
    identity = platform.stub(IdentityServiceStub, tenant="globex", role="admin")
    phone, email = "+4917611122233", "erase.objects@example.org"
    customer_id, contact_id = await person(identity, platform, phone, email)
    _, bystander_contact = await person(identity, platform, "+4917699988877", "stay.objects@example.org")

    async def timeline_written() -> bool:
        reply = await identity.GetTimeline(pb.GetTimelineRequest(tenant=GLOBEX, customer_id=customer_id))
        return len(reply.entries) == 2

    await eventually(timeline_written)
    before = b"\n".join(m for messages in (await scan(platform)).values() for m in messages)
    assert email.encode() in before and f"dl.{contact_id}".encode() in before  # the check can fail

    reply = await identity.ForgetCustomer(
        pb.ForgetCustomerRequest(tenant=GLOBEX, customer_id=customer_id, reason="GDPR art. 17 #12")
    )

    attachments_stream = f"OBJ_{naming.attachments_bucket('eu')}"
    # The recording by its name, the note by its content, the photo by the event naming it.
    assert reply.removed[attachments_stream] == 3
    assert reply.removed["KV_integration-eu"] >= 1
    after = await scan(platform)
    for stream, messages in after.items():
        for message in messages:
            assert phone.encode() not in message and email.encode() not in message, (stream, message)
            if not message.endswith(b" "):  # empty purge markers carry only random ids
                assert contact_id.encode() not in message, (stream, message)
    bystander = b"\n".join(after[attachments_stream])
    assert b"stay.objects@example.org" in bystander  # the bystander's note stays
    kept = await platform.nc.jetstream().object_store(naming.attachments_bucket("eu"))
    assert (await kept.get_info(f"globex/{bystander_contact}/recording.wav")).size > 0
    # The report is signed with the region's secret and says what the reply says.
    document = verify(reply.report, reply.signature, SECRET)
    assert document["customerId"] == customer_id and document["region"] == "eu"
    assert document["removed"] == dict(reply.removed)
    assert document["total"] == sum(reply.removed.values())
    # Only identity runs here: integration's part cannot be done, and the reply and the signed
    # report say so (no AI instance means no remembered texts: nothing missing there).
    assert [part.split(":")[0] for part in reply.incomplete] == ["integration"]
    assert "no instance of 'integration'" in reply.incomplete[0]
    assert document["incomplete"] == list(reply.incomplete)
    tampered = reply.report.replace(f'"{attachments_stream}":3', f'"{attachments_stream}":2')
    assert tampered != reply.report
    with pytest.raises(ErasureReportError, match="does not match"):
        verify(tampered, reply.signature, SECRET)
    with pytest.raises(ErasureReportError, match="does not match"):
        verify(reply.report, reply.signature, "another-region-secret-0000000000")


async def test_a_legal_hold_suspends_erasure_until_released(platform: Platform) -> None:
    await platform.start("identity")
    identity = platform.stub(IdentityServiceStub, tenant="globex", role="admin")
    phone, email = "+4917633344455", "held@example.org"
    customer_id, _ = await person(identity, platform, phone, email)

    async def timeline_written() -> bool:
        reply = await identity.GetTimeline(pb.GetTimelineRequest(tenant=GLOBEX, customer_id=customer_id))
        return len(reply.entries) == 2

    await eventually(timeline_written)
    with pytest.raises(RpcError) as caught:
        await identity.PlaceLegalHold(pb.PlaceLegalHoldRequest(tenant=GLOBEX, reason="case 7"))
    assert caught.value.code is grpc.StatusCode.INVALID_ARGUMENT and "exactly one" in caught.value.message
    for role in ("supervisor", "agent"):
        with pytest.raises(RpcError) as caught:
            await platform.stub(IdentityServiceStub, tenant="globex", role=role).PlaceLegalHold(
                pb.PlaceLegalHoldRequest(tenant=GLOBEX, customer_id=customer_id, reason="case 7")
            )
        assert caught.value.code is grpc.StatusCode.PERMISSION_DENIED

    placed = (
        await identity.PlaceLegalHold(
            pb.PlaceLegalHoldRequest(tenant=GLOBEX, customer_id=customer_id, reason="litigation case 7")
        )
    ).hold
    assert placed.held["events"] == 1  # one contact's events, as one copy
    assert placed.held["objects"] == 2  # the recording named after the contact, the photo
    assert placed.held["keys"] >= 2  # the timeline entries
    listed = await identity.ListLegalHolds(pb.ListLegalHoldsRequest(tenant=GLOBEX))
    assert [h.hold_id for h in listed.holds] == [placed.hold_id]

    with pytest.raises(RpcError) as caught:
        await identity.ForgetCustomer(
            pb.ForgetCustomerRequest(tenant=GLOBEX, customer_id=customer_id, reason="x")
        )
    assert caught.value.code is grpc.StatusCode.FAILED_PRECONDITION
    assert placed.hold_id in caught.value.message and "litigation case 7" in caught.value.message
    # Nothing was removed by the refused erasure.
    still = await identity.GetTimeline(pb.GetTimelineRequest(tenant=GLOBEX, customer_id=customer_id))
    assert len(still.entries) == 2

    released = await identity.ReleaseLegalHold(
        pb.ReleaseLegalHoldRequest(tenant=GLOBEX, hold_id=placed.hold_id, reason="case closed")
    )
    assert released.deleted == sum(placed.held.values())
    with pytest.raises(RpcError) as caught:
        await identity.ReleaseLegalHold(pb.ReleaseLegalHoldRequest(tenant=GLOBEX, hold_id=placed.hold_id))
    assert caught.value.code is grpc.StatusCode.NOT_FOUND
    assert not (await identity.ListLegalHolds(pb.ListLegalHoldsRequest(tenant=GLOBEX))).holds
    await identity.ForgetCustomer(
        pb.ForgetCustomerRequest(tenant=GLOBEX, customer_id=customer_id, reason="x")
    )
    after = await scan(platform)
    assert not after[f"OBJ_{holds_bucket('eu')}"], "a released hold leaves nothing behind"
    everything = b"\n".join(m for messages in after.values() for m in messages)
    assert phone.encode() not in everything and email.encode() not in everything


async def test_ccctl_places_lists_and_releases_a_hold(
    platform: Platform, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    await platform.start("identity")
    identity = platform.stub(IdentityServiceStub, tenant="globex", role="admin")
    _, contact_id = await person(identity, platform, "+4917655566677", "cli.hold@example.org")
    monkeypatch.setenv("CC_AUTH_SECRET", SECRET)
    common = ["--tenant", "globex", "--brand", "globex", "--region", "eu", "--nats-url", platform.nats_url]

    async def ccctl(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = await asyncio.to_thread(main, list(args))
        out, err = capsys.readouterr()
        return code, out, err

    code, out, _ = await ccctl(
        "retention", "hold", *common, "--contact", contact_id, "--reason", "case 9", "-o", "json"
    )
    assert code == 0
    (placed,) = orjson.loads(out)
    assert placed["contactId"] == contact_id and placed["held"] == {"events": 1, "objects": 2}
    code, out, _ = await ccctl("retention", "holds", *common)
    assert code == 0 and placed["holdId"] in out and f"contact {contact_id}" in out and "case 9" in out
    code, out, _ = await ccctl("retention", "release", *common, placed["holdId"])
    assert code == 0 and "3 held copies deleted" in out
    code, _, err = await ccctl("retention", "release", *common, placed["holdId"])
    assert code == 1 and "NOT_FOUND" in err and placed["holdId"] in err
    code, _, err = await ccctl("retention", "hold", *common, "--reason", "x")
    assert code == 2 and "--customer" in err
