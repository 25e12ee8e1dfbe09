"""A provider that fails, as the platform started by `ccctl up` meets it: every reply goes to the
provider sandbox, which is told to fail first (5xx, a dropped connection, a reply slower than the
gateway waits, a 4xx). Transient failures are retried until the reply is delivered, once; a
permanent one is reported `failed` with the provider's reason; each attempt is one log line, no
traceback; nothing the agent sent is lost.
"""

from __future__ import annotations

import pytest

from ccsandbox.client import SandboxClient
from tests.e2e.harness import RunningRegion, WsClient

pytestmark = pytest.mark.timeout(300)


async def sms_contact(region: RunningRegion, agent: WsClient, http: object, phone: str) -> str:
    status, _ = await region.sms(http, phone, "Where is my parcel?")  # type: ignore[arg-type]
    assert status == 200
    offer = await agent.expect("offer", seconds=30, channel="sms")
    await agent.send(type="accept", id=f"a-{phone}", reservationId=offer["reservationId"])
    await agent.expect("accepted", id=f"a-{phone}")
    return str(offer["contactId"])


async def statuses(region: RunningRegion, contact_id: str, count: int) -> list[tuple[str, int, str]]:
    changed = await region.wait_event("message_status_changed", contact_id, count=count)
    return [
        (e.message_status_changed.status, e.message_status_changed.attempts, e.message_status_changed.reason)
        for e in changed
    ]


async def test_a_reply_survives_a_5xx_a_dropped_connection_and_a_slow_provider_and_arrives_once(
    e2e_region: RunningRegion, sandbox: SandboxClient
) -> None:
    async with e2e_region.http() as http:
        alice = await e2e_region.agent(http, "alice")
        phone = "+447700900811"
        contact_id = await sms_contact(e2e_region, alice, http, phone)
        await sandbox.fail("sms", {"status": 503}, {"drop": True}, {"delay_seconds": 20, "status": 504})
        await alice.send(type="send", id="s1", contactId=contact_id, text="It arrives tomorrow.")
        await alice.expect("sent", id="s1")

        # 503, dropped, too slow (the gateway gives up after its 15 s call timeout), then taken.
        attempts_seen = await sandbox.wait_for(
            lambda m: m["kind"] == "sms" and m["to"] == phone, count=4, seconds=90
        )
        ((status, attempts, reason),) = await statuses(e2e_region, contact_id, 1)
        assert (status, attempts, reason) == ("sent", 4, "")

        # The slow attempt's 504 is written when the sandbox finally answers, after the retry.
        assert sorted(m["accepted"] for m in attempts_seen) == [False, False, False, True]
        assert [m["text"] for m in attempts_seen] == ["It arrives tomorrow."] * 4

        log = e2e_region.log("gateway")
        retried = [
            line
            for line in log.splitlines()
            if "attempt" in line and "retrying" in line and "via twilio" in line
        ]
        assert len(retried) >= 3, log[-3000:]
        assert "Traceback" not in log
        await alice.send(type="wrap_up", id="w1", contactId=contact_id, disposition="resolved")
        await alice.expect("wrapped_up", seconds=30, id="w1")
        await alice.ws.close()


async def test_a_permanent_provider_error_is_reported_failed_with_its_reason_and_not_retried(
    e2e_region: RunningRegion, sandbox: SandboxClient
) -> None:
    async with e2e_region.http() as http:
        alice = await e2e_region.agent(http, "alice")
        phone = "+447700900812"
        contact_id = await sms_contact(e2e_region, alice, http, phone)
        await sandbox.fail("sms", {"status": 400, "code": 21211, "message": "The 'To' number is not valid."})
        await alice.send(type="send", id="s2", contactId=contact_id, text="Can you confirm your address?")
        await alice.expect("sent", id="s2")
        ((status, attempts, reason),) = await statuses(e2e_region, contact_id, 1)
        assert (status, attempts) == ("failed", 1)
        assert "21211" in reason and "not valid" in reason
        # The next reply goes out: one refusal loses nothing that follows.
        await alice.send(type="send", id="s3", contactId=contact_id, text="We will e-mail you instead.")
        await alice.expect("sent", id="s3")
        changed = await statuses(e2e_region, contact_id, 2)
        assert changed[1][0] == "sent"
        sent = [m for m in await sandbox.messages() if m["kind"] == "sms" and m["to"] == phone]
        assert [(m["text"], m["accepted"]) for m in sent] == [
            ("Can you confirm your address?", False),
            ("We will e-mail you instead.", True),
        ]
        await alice.send(type="wrap_up", id="w2", contactId=contact_id, disposition="resolved")
        await alice.expect("wrapped_up", seconds=30, id="w2")
        await alice.ws.close()
