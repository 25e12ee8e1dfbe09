"""End to end: queued callbacks asked for by SMS, placed when their turn comes, retried, cancelled.

The platform as `ccctl up` starts it. The voice endpoint's retry policy is applied with
`ccctl apply` (two attempts, one second apart). Four SMS customers wait in the support queue
while the only agent is away; each replies CALL ME and is told, on their SMS, that they keep
their place; the supervisor's board lists the four as scheduled. One replies CANCEL and is told
so; another's request is cancelled through the API (a second cancel is refused, naming why); both
leave the queue (CallbackCancelled). The agent then takes the two left, each offer showing the
number it will call. The first customer does not pick up the first call (the provider sandbox
reports no-answer): CallbackAttemptFailed says it is retried, a second later the next attempt is
placed, and answered it is put through to the agent. The other customer answers neither
attempt: the last failure is final, the customer is told so on their SMS, and the board lists
the call back as failed. The cancelled customers are never called.

Then a web chat visitor asks for a call back from the widget, giving a number, and a caller on
hold presses 1: both keep their place and are called back in turn when the agent takes them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml

from ccmesh.status import RpcError
from ccsandbox.client import SandboxClient
from contactcenter.routing.v1 import routing_pb2, routing_pb2_grpc
from gateway.domain.twiml import CALLBACK_KEY, DEFAULT_CALLBACK_KEPT
from gateway.service_layer.callback_attempts import UNREACHED_TEXT
from routing.domain.callbacks import CANCELLED_TEXT, REQUEST_TEXT, REQUEST_TEXT_GIVEN_NUMBER
from tests.e2e.channels.test_voice import contact_of, dial_in, on_hold, said
from tests.e2e.harness import EXAMPLES, RunningRegion, eventually

REPO = Path(__file__).resolve().parents[3]
ANSWERS_SECOND = "+447700900871"  # no answer at first, then picks up
CANCELS_BY_SMS = "+447700900872"
CANCELLED_BY_API = "+447700900873"
NEVER_ANSWERS = "+447700900874"  # busy, then no answer: the call back fails
CUSTOMERS = (ANSWERS_SECOND, CANCELS_BY_SMS, CANCELLED_BY_API, NEVER_ANSWERS)


def _voice_endpoint_with_retries(path: Path, sandbox_url: str) -> Path:
    for document in yaml.safe_load_all((EXAMPLES / "channels" / "eu.yaml").read_text()):
        if document and document.get("metadata", {}).get("name") == "acme-uk-voice":
            document["spec"]["callback"] = {"attempts": 2, "spacingSeconds": 1}
            # Calls go to the sandbox `ccctl up` started, as they did before the change.
            document["spec"]["providerApiUrl"] = sandbox_url
            path.write_text(yaml.safe_dump(document))
            return path
    raise AssertionError("the example region has no acme-uk-voice endpoint")


async def _contacts_of(region: RunningRegion, phones: tuple[str, ...]) -> dict[str, str]:
    """phone -> the contact its SMS opened (its ContactCreated names the number)."""

    async def opened() -> dict[str, str] | None:
        found = {}
        for event in await region.events():
            if event.WhichOneof("payload") == "contact_created":
                sender = getattr(event.contact_created, "from").value  # `from` is a keyword
                if sender in phones:
                    found[sender] = event.contact_id
        return found if len(found) == len(phones) else None

    return await eventually(opened)


async def test_callbacks_asked_by_sms_are_placed_in_turn_retried_failed_and_cancelled(
    e2e_region: RunningRegion, sandbox: SandboxClient, tmp_path: Path
) -> None:
    region = e2e_region
    policy = _voice_endpoint_with_retries(tmp_path / "voice.yaml", sandbox.base_url)
    applied = region.ccctl("apply", "-f", str(policy), "--nats-url", region.nats_url)
    assert applied.returncode == 0, applied.stderr
    supervisor = {"Authorization": f"Bearer {region.token('supervisor', 'sup-1')}"}

    async def board(http: Any) -> dict[str, list[dict[str, Any]]]:
        async with http.get(f"{region.http_base}/v1/tenants/acme/queues", headers=supervisor) as response:
            assert response.status == 200, await response.text()
            return dict((await response.json())["callbacks"])

    async with region.http() as http, region.connect() as nc:
        routing = region.stub(nc, routing_pb2_grpc.RoutingServiceStub, region.token("admin"))
        alice = await region.agent(http, "alice", available=False)
        for phone in CUSTOMERS:
            status, _ = await region.sms(http, phone, "My order is late, where is it?")
            assert status == 200
        contact = await _contacts_of(region, CUSTOMERS)
        for phone in CUSTOMERS:
            await region.wait_event("contact_queued", contact[phone])

        # Each asks for a call back and is told, on their SMS, that they keep their place.
        for phone in CUSTOMERS:
            status, _ = await region.sms(http, phone, "CALL ME")
            assert status == 200
        told = await sandbox.wait_for(
            lambda m: m["kind"] == "sms" and m["to"] in CUSTOMERS and m["text"] == REQUEST_TEXT,
            count=len(CUSTOMERS),
        )
        assert sorted(m["to"] for m in told) == sorted(CUSTOMERS)

        async def all_scheduled() -> dict[str, list[dict[str, Any]]] | None:
            shown = await board(http)
            return shown if len(shown["scheduled"]) == len(CUSTOMERS) else None

        shown = await eventually(all_scheduled)
        # In the order they will be called back: the order they came in.
        assert [c["contactId"] for c in shown["scheduled"]] == [contact[p] for p in CUSTOMERS], shown
        assert not shown["placed"] and not shown["failed"], shown

        # One cancels on their SMS, the other's request is cancelled through the API.
        status, _ = await region.sms(http, CANCELS_BY_SMS, "Cancel")
        assert status == 200
        await sandbox.wait_for(
            lambda m: m["kind"] == "sms" and m["to"] == CANCELS_BY_SMS and m["text"] == CANCELLED_TEXT
        )
        (by_sms,) = await region.wait_event("callback_cancelled", contact[CANCELS_BY_SMS])
        assert (by_sms.callback_cancelled.by, by_sms.callback_cancelled.queue) == ("customer", "support")
        cancel = routing_pb2.CancelCallbackRequest(tenant_id="acme", contact_id=contact[CANCELLED_BY_API])
        reply = await routing.CancelCallback(cancel)
        assert (reply.contact_id, reply.queue) == (contact[CANCELLED_BY_API], "support")
        (by_api,) = await region.wait_event("callback_cancelled", contact[CANCELLED_BY_API])
        assert by_api.callback_cancelled.by == "api"
        for phone, by in ((CANCELS_BY_SMS, "customer"), (CANCELLED_BY_API, "api")):
            (closed,) = await region.wait_event("contact_closed", contact[phone])
            assert (closed.contact_closed.outcome, closed.contact_closed.closed_by) == (
                "callback_cancelled",
                by,
            )
        with pytest.raises(RpcError) as refused:
            await routing.CancelCallback(cancel)
        assert refused.value.code == grpc.StatusCode.FAILED_PRECONDITION
        assert f"contact {contact[CANCELLED_BY_API]} is not waiting in a queue" in refused.value.message

        # The agent becomes available and takes the two requests left; each offer shows the number.
        await sandbox.leave_unanswered(ANSWERS_SECOND, "no-answer")
        await sandbox.leave_unanswered(NEVER_ANSWERS, "busy", "no-answer")
        await alice.send(type="set_state", id="available", state="available")
        await alice.expect("state", id="available")
        offers = [await alice.expect("offer", seconds=45, channel="sms") for _ in range(2)]
        numbers = {contact[p]: p for p in CUSTOMERS}
        assert {o["contactId"] for o in offers} == {contact[ANSWERS_SECOND], contact[NEVER_ANSWERS]}
        assert all(o["callback"] == {"number": numbers[o["contactId"]]} for o in offers), offers
        for offer in offers:
            await alice.send(
                type="accept", id=f"a-{offer['contactId']}", reservationId=offer["reservationId"]
            )
            await alice.expect("accepted", id=f"a-{offer['contactId']}")

        # Not answered at first: retried a second later, answered, put through to the agent.
        (failed,) = await region.wait_event("callback_attempt_failed", contact[ANSWERS_SECOND])
        first = failed.callback_attempt_failed
        assert (first.attempt, first.attempts_allowed, first.status, first.final) == (
            1,
            2,
            "no-answer",
            False,
        )
        assert (first.agent_id, first.endpoint) == ("alice", "acme-uk-voice")
        requested = await region.wait_event("callback_requested", contact[ANSWERS_SECOND], count=2)
        assert [r.callback_requested.attempt for r in requested] == [1, 2]
        assert requested[1].callback_requested.first_request == requested[0].event_id

        async def put_through() -> list[dict[str, Any]] | None:
            calls = [c for c in await sandbox.calls() if c["caller"] == ANSWERS_SECOND]
            return calls if len(calls) == 2 and calls[1]["connected_to"] else None

        calls = await eventually(put_through)
        assert calls[0]["status"] == "no-answer" and "alice" in str(calls[1]["connected_to"]), calls

        # Never answered: the second failure is the last, and the board lists it as failed.
        failures = await region.wait_event("callback_attempt_failed", contact[NEVER_ANSWERS], count=2)
        assert [(f.callback_attempt_failed.status, f.callback_attempt_failed.final) for f in failures] == [
            ("busy", False),
            ("no-answer", True),
        ]

        # The customer hears it on their SMS (the agent still holds the conversation).
        await sandbox.wait_for(
            lambda m: (
                m["kind"] == "sms"
                and m["to"] == NEVER_ANSWERS
                and m["text"] == UNREACHED_TEXT.format(attempts=2)
            )
        )

        async def failed_on_board() -> dict[str, list[dict[str, Any]]] | None:
            shown = await board(http)
            return shown if shown["failed"] else None

        shown = await eventually(failed_on_board)
        assert [(f["contactId"], f["attempts"]) for f in shown["failed"]] == [(contact[NEVER_ANSWERS], 2)]
        assert [c["contactId"] for c in shown["placed"]] == [contact[ANSWERS_SECOND]], shown
        assert not shown["scheduled"], shown

        # The cancelled customers were never called; nothing else was placed.
        cancelled = (CANCELS_BY_SMS, CANCELLED_BY_API)
        assert not [c for c in await sandbox.calls() if c["caller"] in cancelled]
        assert len(await region.wait_event("callback_requested")) == 4
        await alice.ws.close()


CHAT_PHONE = "+447700900881"
ON_HOLD = "+447700900882"


async def test_a_chat_visitor_and_a_caller_on_hold_keep_their_place_and_are_called_back(
    e2e_region: RunningRegion, sandbox: SandboxClient
) -> None:
    """The web chat widget's call back request keeps the chat's place (the visitor gave a number);
    a caller on hold presses 1, hangs up, and keeps their place as a call back to their number.
    Both are called, in the order they came, when the agent takes them."""
    region = e2e_region
    async with region.http() as http, region.connect() as nc:
        routing = region.stub(nc, routing_pb2_grpc.RoutingServiceStub, region.token("admin"))
        # Alice (still holding the SMS customers above) takes a break; bob takes these two.
        alice = await region.agent(http, "alice", available=False)
        await alice.send(type="set_state", id="break", state="break")
        await alice.expect("state", id="break")
        bob = await region.agent(http, "bob", available=False)
        chat = await region.chat(http, visitor="callback-" + os.urandom(4).hex())
        await chat.send(type="message", id="m1", text="My order is late, where is it?")
        chat_contact = (await chat.expect("ack", id="m1"))["contactId"]
        await region.wait_event("contact_queued", chat_contact)
        await chat.send(type="callback_request", id="cb1", phone=CHAT_PHONE)
        assert (await chat.expect("ack", id="cb1"))["callback"] == "queued"
        await chat.expect("message", seconds=20, text=REQUEST_TEXT_GIVEN_NUMBER)

        sid = await dial_in(region, sandbox, ON_HOLD)
        await on_hold(sandbox, sid)
        call_contact = await contact_of(region, sid)
        await sandbox.answer(sid, CALLBACK_KEY)
        ended = await sandbox.wait_call(sid, lambda c: c["status"] == "completed", seconds=30)
        assert DEFAULT_CALLBACK_KEPT in said(ended)

        async def both_scheduled() -> list[str] | None:
            reply = await routing.ListCallbacks(routing_pb2.ListCallbacksRequest(tenant_id="acme"))
            waiting = [c.contact_id for c in reply.callbacks if c.state == "scheduled"]
            return waiting if call_contact in waiting and chat_contact in waiting else None

        # In the order they came: the chat first; the caller who hung up abandoned nothing.
        waiting = await eventually(both_scheduled)
        assert waiting.index(chat_contact) < waiting.index(call_contact)
        events = await region.contact_events(call_contact)
        assert "abandoned" not in [
            e.contact_closed.outcome for e in events if e.WhichOneof("payload") == "contact_closed"
        ]

        await bob.send(type="set_state", id="available", state="available")
        await bob.expect("state", id="available")
        for number, contact_id in ((CHAT_PHONE, chat_contact), (ON_HOLD, call_contact)):
            offer = await bob.expect("offer", seconds=45, contactId=contact_id)
            assert offer["callback"] == {"number": number}, offer
            await bob.send(type="accept", id=f"a-{contact_id}", reservationId=offer["reservationId"])
            await bob.expect("accepted", id=f"a-{contact_id}")

            async def put_through(number: str = number) -> dict[str, Any] | None:
                placed = [c for c in await sandbox.calls() if c["caller"] == number and c["connected_to"]]
                return placed[0] if placed else None

            assert "bob" in str((await eventually(put_through))["connected_to"])
            # Done with the customer: a voice contact needs an agent free of other work.
            await bob.send(type="wrap_up", id=f"w-{contact_id}", contactId=contact_id, disposition="resolved")
            await bob.expect("wrapped_up", seconds=30, id=f"w-{contact_id}")
        await chat.ws.close()
        await bob.ws.close()
        await alice.ws.close()
