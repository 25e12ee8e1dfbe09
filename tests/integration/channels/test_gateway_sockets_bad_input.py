"""Bad input on the web chat and workspace sockets, against the real mesh: garbage frames,
oversized frames, floods, bad or missing credentials, silent sockets, too many sockets, foreign
origins. Each gets the close code or error docs/websocket-api.md names, while another customer's
chat keeps working and every message acked before is on the stream."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from _gateway_conversation import contact_events
from _platform import Platform
from _workspace_harness import ALLOWED_ORIGIN, CHAT, LOCKED_CHAT, Client, customer, start_workspace

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


class Bystander:
    """A customer chatting normally; each `still_served` proves the gateway still serves them."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.acked: list[str] = []
        self.contact_id = ""

    async def still_served(self) -> None:
        message_id = f"b{len(self.acked)}"
        await self.client.send(type="message", id=message_id, text=f"still here {message_id}")
        ack = await self.client.expect("ack", id=message_id)
        self.contact_id = ack["contactId"]
        self.acked.append(ack["messageId"])


async def raw(http: aiohttp.ClientSession, url: str) -> Client:
    return Client(await http.ws_connect(url))


async def test_garbage_and_oversized_frames_close_the_socket_and_others_keep_chatting(
    platform: Platform,
    http: aiohttp.ClientSession,
) -> None:
    base = await start_workspace(platform)
    url = f"{base}/v1/webchat/{CHAT}/ws"
    bystander = Bystander(await customer(http, base))
    await bystander.still_served()

    for garbage in ("not json at all", "[1, 2, 3]", '{"no": "type"}', '{"type": 42}', "\u00ff\u00fe{"):
        client = await raw(http, url)
        await client.ws.send_str(garbage)
        assert await client.closed_with() == 4400, garbage
        await bystander.still_served()

    client = await raw(http, url)
    await client.ws.send_bytes(b'{"type":"hello"}')
    assert await client.closed_with() == 4400
    client = await raw(http, url)
    await client.ws.send_str('{"type":"message","id":"x","text":"before hello"}')
    assert await client.closed_with() == 4400

    client = await customer(http, base)
    await client.ws.send_str('{"type":"message","id":"big","text":"' + "x" * (65 * 1024) + '"}')
    assert await client.closed_with() == 1009
    await bystander.still_served()


async def test_bad_messages_get_error_replies_and_the_socket_stays_usable(
    platform: Platform,
    http: aiohttp.ClientSession,
) -> None:
    base = await start_workspace(platform)
    chat = await customer(http, base)
    cases = [
        ({"type": "dance", "id": "e1"}, "unknown message type"),
        ({"type": "message", "id": "e2"}, "text:"),
        ({"type": "message", "id": "e3", "text": 7}, "text:"),
        ({"type": "message", "text": "no id"}, "id:"),
        ({"type": "message", "id": "e5", "text": "x" * 5000}, "at most 4096"),
        ({"type": "callback_request", "id": "e6", "phone": "call me maybe"}, "phone:"),
        ({"type": "hello", "id": "e7"}, "already"),
        ({"type": "ping", "id": ["not", "a", "string"]}, "id:"),
    ]
    for message, naming in cases:
        await chat.send(**message)
        error = await chat.expect("error")
        assert error["code"] == "bad_request"
        assert naming in error["message"], (message, error)
        assert error["id"] == (message.get("id") if isinstance(message.get("id"), str) else None)
    await chat.send(type="message", id="ok", text="a proper message")
    ack = await chat.expect("ack", id="ok")
    # A call back needs a conversation to call back about: there is one now.
    await chat.send(type="callback_request", id="cb", phone="+44 20 7946 0958")
    callback = await chat.expect("ack", id="cb")
    assert callback["contactId"] == ack["contactId"]
    kinds = [e.WhichOneof("payload") for e in await contact_events(platform.nc, ack["contactId"])]
    assert kinds.count("message_received") == 1
    # A chat already waiting in its queue keeps its place as a call-back request (called when an
    # agent takes it); one not queued yet is called back now.
    assert callback["callback"] in ("queued", "requested"), callback
    assert ("callback_requested" in kinds) == (callback["callback"] == "requested"), (callback, kinds)


async def test_a_flooding_socket_is_closed_with_4429_and_others_are_not(
    platform: Platform,
    http: aiohttp.ClientSession,
) -> None:
    base = await start_workspace(platform)
    bystander = Bystander(await customer(http, base))
    flooder = await customer(http, base)
    for index in range(300):
        if flooder.ws.closed:
            break
        await flooder.ws.send_str(f'{{"type":"ping","id":"p{index}"}}')
    assert await flooder.closed_with() == 4429
    await bystander.still_served()


async def test_agent_socket_closes_on_missing_bad_or_wrong_role_credentials(
    platform: Platform,
    http: aiohttp.ClientSession,
) -> None:
    base = await start_workspace(platform)
    url = f"{base}/v1/agent/ws"
    bystander = Bystander(await customer(http, base))
    mint = platform.authority.mint
    for first, code in (
        ({"type": "auth", "token": "cct1.forged.token"}, 4401),
        ({"type": "auth", "token": mint("acme", "agent", "alice", -10)}, 4401),
        ({"type": "auth"}, 4401),
        ({"type": "ping", "id": "p"}, 4401),
        ({"type": "auth", "token": mint("acme", "integration", "crm")}, 4403),
        ({"type": "auth", "token": mint("acme", "agent", "carol")}, 4403),  # no agent profile
    ):
        client = await raw(http, url)
        await client.send(**first)
        assert await client.closed_with() == code, first
    silent = await raw(http, url)
    assert await silent.closed_with() == 4408
    await bystander.still_served()
    # The bearer header works too (no auth message needed).
    headers = {"Authorization": f"Bearer {mint('acme', 'agent', 'alice')}"}
    alice = Client(await http.ws_connect(url, headers=headers))
    ready = await alice.expect("ready")
    assert (ready["agentId"], ready["displayName"], ready["role"]) == ("alice", "Alice", "agent")
    await alice.send(type="auth", id="again", token="x")
    assert (await alice.expect("error", id="again"))["code"] == "bad_request"
    await alice.send(type="set_state", id="s", state="busy")
    assert "state:" in (await alice.expect("error", id="s"))["message"]


async def test_idle_sockets_time_out_and_the_tenant_cap_holds(
    platform: Platform,
    http: aiohttp.ClientSession,
) -> None:
    base = await start_workspace(platform, socket_idle_seconds=1.0, socket_connections_per_tenant=2)
    first = await customer(http, base)
    second = await customer(http, base)
    third = await raw(http, f"{base}/v1/webchat/{CHAT}/ws")
    assert await third.closed_with() == 4429
    # Silent after hello: closed for idleness, which frees a place for the next chat.
    assert await first.closed_with() == 4408
    assert await second.closed_with() == 4408
    again = await customer(http, base)
    await again.send(type="message", id="m", text="hello")
    await again.expect("ack", id="m")


async def test_origins_are_checked_and_unknown_endpoints_are_named(
    platform: Platform,
    http: aiohttp.ClientSession,
) -> None:
    base = await start_workspace(platform)
    async with http.get(f"{base}/v1/webchat/nope/ws") as response:
        assert response.status == 404
        assert "nope" in (await response.json())["error"]["message"]
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await http.ws_connect(f"{base}/v1/webchat/{LOCKED_CHAT}/ws", origin="https://evil.example")
    assert refused.value.status == 403
    allowed = Client(await http.ws_connect(f"{base}/v1/webchat/{LOCKED_CHAT}/ws", origin=ALLOWED_ORIGIN))
    await allowed.send(type="hello")
    await allowed.expect("welcome")


async def test_a_reconnecting_visitor_gets_the_history_and_a_resend_is_not_a_new_message(
    platform: Platform,
    http: aiohttp.ClientSession,
) -> None:
    base = await start_workspace(platform)
    first = Client(await http.ws_connect(f"{base}/v1/webchat/{CHAT}/ws"))
    await first.send(type="hello")
    welcome = await first.expect("welcome")
    assert welcome["contactId"] is None and welcome["visitor"].startswith("wv1.")
    await first.send(type="message", id="m1", text="my parcel is late")
    ack = await first.expect("ack", id="m1")
    await first.ws.close()

    again = Client(await http.ws_connect(f"{base}/v1/webchat/{CHAT}/ws"))
    await again.send(type="hello", visitor=welcome["visitor"])
    back = await again.expect("welcome")
    assert (back["visitorId"], back["contactId"]) == (welcome["visitorId"], ack["contactId"])
    history = await again.expect("history")
    assert [(m["from"], m["text"]) for m in history["messages"]] == [("customer", "my parcel is late")]

    # The ack was lost, say: the widget re-sends with the same id and nothing new is created.
    # (Counted by its messages: routing's and ai's events of the contact may still be arriving.)
    async def messages() -> list[str]:
        stored = await contact_events(platform.nc, ack["contactId"])
        kinds = [(e.WhichOneof("payload"), e.message_received.message_id) for e in stored]
        return [message_id for kind, message_id in kinds if kind == "message_received"]

    assert await messages() == [ack["messageId"]]
    await again.send(type="message", id="m1", text="my parcel is late")
    repeat = await again.expect("ack", id="m1")
    assert (repeat["duplicate"], repeat["messageId"]) == (True, ack["messageId"])
    assert await messages() == [ack["messageId"]]
    # A forged visitor token is not an error: the visitor simply starts afresh.
    stranger = Client(await http.ws_connect(f"{base}/v1/webchat/{CHAT}/ws"))
    await stranger.send(type="hello", visitor=welcome["visitor"][:-4] + "AAAA")
    fresh = await stranger.expect("welcome")
    assert fresh["visitorId"] != welcome["visitorId"] and fresh["contactId"] is None
