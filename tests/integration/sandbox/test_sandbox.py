"""The provider sandbox on its own: the providers' APIs as the platform's adapters call them, the
failures tests script, and the caller that follows TwiML (against a small TwiML app here).
"""

from __future__ import annotations

import asyncio
import base64
import smtplib
from collections.abc import AsyncIterator
from email.message import EmailMessage

import aiohttp
import pytest
from aiohttp import web

from ccsandbox import Sandbox, SandboxSettings
from ccsandbox.client import SandboxClient, SandboxClientError
from ccsandbox.signing import sign

ACCOUNT, TOKEN = "AC" + "1" * 32, "sandbox-test-token"
GRAPH_TOKEN = "graph-test-token"


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    settings = SandboxSettings(
        pause_scale=0.01, twilio_accounts={ACCOUNT: TOKEN}, graph_tokens=frozenset({GRAPH_TOKEN})
    )
    async with Sandbox(settings) as running:
        yield running


@pytest.fixture
async def client(sandbox: Sandbox) -> AsyncIterator[SandboxClient]:
    async with SandboxClient(sandbox.base_url) as running:
        yield running


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


async def post_twilio(
    sandbox: Sandbox, resource: str, form: dict[str, str], token: str = TOKEN
) -> aiohttp.ClientResponse:
    async with aiohttp.ClientSession() as http:
        response = await http.post(
            f"{sandbox.base_url}/2010-04-01/Accounts/{ACCOUNT}/{resource}",
            data=form,
            headers={"Authorization": basic(ACCOUNT, token)},
        )
        await response.read()
        return response


async def test_twilio_messages_are_recorded_and_bad_requests_get_twilios_errors(
    sandbox: Sandbox, client: SandboxClient
) -> None:
    sms = {"To": "+447700900001", "From": "+442071838750", "Body": "Your parcel is on its way"}
    async with aiohttp.ClientSession() as http:
        url = f"{sandbox.base_url}/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
        async with http.post(url, data=sms, headers={"Authorization": basic(ACCOUNT, TOKEN)}) as response:
            assert response.status == 201
            sent = await response.json()
        assert sent["sid"].startswith("SM") and sent["status"] == "queued"
        async with http.post(url, data=sms, headers={"Authorization": basic(ACCOUNT, "wrong")}) as response:
            assert response.status == 401
            assert (await response.json())["code"] == 20003
        async with http.post(
            url, data={**sms, "Body": ""}, headers={"Authorization": basic(ACCOUNT, TOKEN)}
        ) as response:
            assert response.status == 400
            assert (await response.json())["code"] == 21602
    records = await client.messages()
    assert [(r["kind"], r["to"], r["text"], r["accepted"]) for r in records] == [
        ("sms", "+447700900001", "Your parcel is on its way", True),
        ("sms", "+447700900001", "Your parcel is on its way", False),
        ("sms", "+447700900001", "", False),
    ]
    assert records[0]["sid"] == sent["sid"]
    assert "Authenticate" in records[1]["error"] and "21602" in records[2]["error"]


async def test_scripted_faults_come_first_then_the_route_works_again(
    sandbox: Sandbox, client: SandboxClient
) -> None:
    await client.fail("sms", {"status": 503, "retry_after": "2"}, {"status": 400, "code": 21211})
    form = {"To": "+447700900002", "From": "+442071838750", "Body": "hello"}
    async with aiohttp.ClientSession() as http:
        url = f"{sandbox.base_url}/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
        answers = []
        for _ in range(3):
            async with http.post(
                url, data=form, headers={"Authorization": basic(ACCOUNT, TOKEN)}
            ) as response:
                answers.append(
                    (
                        response.status,
                        response.headers.get("Retry-After"),
                        (await response.json()).get("code"),
                    )
                )
    assert answers == [(503, "2", 20503), (400, None, 21211), (201, None, None)]
    # A dropped connection and a reply slower than the client waits.
    await client.fail("sms", {"drop": True}, {"delay_seconds": 2})
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.ClientError):
            await http.post(url, data=form, headers={"Authorization": basic(ACCOUNT, TOKEN)})
        with pytest.raises(TimeoutError):
            await http.post(
                url,
                data=form,
                headers={"Authorization": basic(ACCOUNT, TOKEN)},
                timeout=aiohttp.ClientTimeout(total=0.3),
            )
    # Faults that make no sense are refused with the field named.
    with pytest.raises(SandboxClientError, match="status"):
        await client.fail("sms", {"status": 200})
    with pytest.raises(SandboxClientError, match="route"):
        await client.fail("fax", {"status": 500})


async def test_whatsapp_and_smtp(sandbox: Sandbox, client: SandboxClient) -> None:
    payload = {
        "messaging_product": "whatsapp",
        "to": "447700900003",
        "type": "text",
        "text": {"body": "Hola"},
    }
    async with aiohttp.ClientSession() as http:
        url = f"{sandbox.base_url}/v21.0/106540352242922/messages"
        async with http.post(
            url, json=payload, headers={"Authorization": f"Bearer {GRAPH_TOKEN}"}
        ) as response:
            assert response.status == 200
            assert (await response.json())["messages"][0]["id"].startswith("wamid.")
        async with http.post(url, json=payload, headers={"Authorization": "Bearer nope"}) as response:
            assert response.status == 401
            assert (await response.json())["error"]["code"] == 190
        await client.fail("whatsapp", {"status": 500})
        async with http.post(
            url, json=payload, headers={"Authorization": f"Bearer {GRAPH_TOKEN}"}
        ) as response:
            assert response.status == 500
            assert (await response.json())["error"]["code"] == 131000

    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "support@acme.example", "ana@example.com", "Re: order"
    mail.set_content("Your order ships today.")

    def send() -> None:
        with smtplib.SMTP("127.0.0.1", sandbox.smtp_port, timeout=10) as smtp:
            smtp.send_message(mail)

    await asyncio.to_thread(send)
    await client.fail("email", {"status": 451})
    with pytest.raises(smtplib.SMTPDataError) as refused:
        await asyncio.to_thread(send)
    assert refused.value.smtp_code == 451
    records = await client.messages()
    assert [(r["kind"], r["text"], r["accepted"]) for r in records] == [
        ("whatsapp", "Hola", True),
        ("whatsapp", "Hola", False),
        ("whatsapp", "Hola", False),
        ("email", "Your order ships today.", True),
        ("email", "Your order ships today.", False),
    ]


# -- the caller --------------------------------------------------------------------------------


class TwimlApp:
    """A tiny voice application: a menu, then a queue with a wait URL; it checks every signature."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.base = ""
        self.bad_signatures = 0

    async def handle(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        url = f"{self.base}{request.path_qs}"
        if request.headers.get("X-Twilio-Signature") != sign(url, form, TOKEN):
            self.bad_signatures += 1
            return web.Response(status=401)
        self.requests.append((request.path, form))
        path = request.path
        if path == "/voice":
            twiml = (
                f'<Response><Gather input="dtmf speech" action="{self.base}/menu" timeout="5" '
                'actionOnEmptyResult="true"><Say>Press 1 for sales.</Say></Gather></Response>'
            )
        elif path == "/menu":
            twiml = (
                f"<Response><Say>You chose {form.get('Digits') or form.get('SpeechResult')}.</Say>"
                f'<Enqueue waitUrl="{self.base}/wait">sales</Enqueue></Response>'
            )
        elif path == "/wait":
            if sum(path == "/wait" for path, _ in self.requests) > 2:
                # Slow from the third fetch on: the platform's redirect finds one in flight.
                await asyncio.sleep(2.0)
            twiml = (
                f'<Response><Say>You are number {form["QueuePosition"]}.</Say><Pause length="1"/>'
                f"<Redirect>{self.base}/wait</Redirect></Response>"
            )
        else:
            twiml = "<Response/>"
        return web.Response(text=twiml, content_type="text/xml")


@pytest.fixture
async def app() -> AsyncIterator[TwimlApp]:
    voice = TwimlApp()
    server = web.Application()
    server.router.add_post("/{tail:.*}", voice.handle)
    runner = web.AppRunner(server)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    voice.base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield voice
    finally:
        await runner.cleanup()


async def test_the_caller_follows_twiml_waits_in_the_queue_and_is_put_through_by_the_calls_api(
    sandbox: Sandbox, client: SandboxClient, app: TwimlApp
) -> None:
    call = await client.dial_in(
        url=f"{app.base}/voice",
        account_sid=ACCOUNT,
        auth_token=TOKEN,
        caller="+447700900004",
        number="+442071838751",
        status_callback=f"{app.base}/status",
        answers=("1",),
    )
    sid = call["sid"]
    queued = await client.wait_call(
        sid, lambda c: sum(h["text"] == "You are number 1." for h in c["heard"]) >= 2
    )
    assert queued["queue"] == "sales"
    assert [h["text"] for h in queued["heard"][:4]] == ["Press 1 for sales.", "", "1", "You chose 1."]
    menu = next(form for path, form in app.requests if path == "/menu")
    assert (menu["Digits"], menu["From"], menu["To"], menu["Direction"]) == (
        "1",
        "+447700900004",
        "+442071838751",
        "inbound",
    )
    wait = next(form for path, form in app.requests if path == "/wait")
    assert (wait["QueuePosition"], wait["CurrentQueueSize"]) == ("1", "1")

    # The platform puts the caller through to an agent through the Calls API.
    twiml = "<Response><Dial><Client>alice</Client></Dial></Response>"
    response = await post_twilio(sandbox, f"Calls/{sid}.json", {"Twiml": twiml})
    assert response.status == 200
    # Out of the queue by the time the Calls API answers, as with Twilio: not a moment later.
    redirected = sandbox.caller.get(sid)
    assert redirected is not None and redirected.queue == ""
    connected = await client.wait_call(sid, lambda c: c["connected_to"] == "client:alice")
    assert connected["queue"] == "" and connected["status"] == "in-progress"

    await client.hang_up(sid)
    ended = await client.wait_call(sid, lambda c: c["status"] == "completed")
    assert ended["ended_at"] > 0
    statuses = [form["CallStatus"] for path, form in app.requests if path == "/status"]
    assert statuses == ["completed"]
    # An ended call cannot be redirected (Twilio's 21220); an unknown one is 404 (20404).
    response = await post_twilio(sandbox, f"Calls/{sid}.json", {"Twiml": twiml})
    assert response.status == 400
    response = await post_twilio(sandbox, "Calls/CA0000.json", {"Twiml": twiml})
    assert response.status == 404
    assert app.bad_signatures == 0


async def test_a_call_the_platform_places_is_answered_and_follows_its_url(
    sandbox: Sandbox, client: SandboxClient, app: TwimlApp
) -> None:
    response = await post_twilio(
        sandbox,
        "Calls.json",
        {
            "To": "+447700900005",
            "From": "+442071838751",
            "Url": f"{app.base}/voice?contact=c1",
            "StatusCallback": f"{app.base}/status",
        },
    )
    assert response.status == 201
    (call,) = await client.calls()
    # Nobody keys anything: the empty result goes to the action, which queues the customer.
    queued = await client.wait_call(call["sid"], lambda c: c["queue"] == "sales")
    assert [h["verb"] for h in queued["heard"][:4]] == ["Say", "Gather", "Say", "Enqueue"]
    first_path, first = app.requests[0]
    assert first_path == "/voice"
    assert (first["Direction"], first["From"], first["To"]) == (
        "outbound-api",
        "+442071838751",
        "+447700900005",
    )
    menu = next(form for path, form in app.requests if path == "/menu")
    assert "Digits" not in menu and "SpeechResult" not in menu
    # The platform hangs the call up through the Calls API: the status callback says so.
    response = await post_twilio(sandbox, f"Calls/{call['sid']}.json", {"Status": "completed"})
    assert response.status == 200
    ended = await client.wait_call(call["sid"], lambda c: c["status"] == "completed")
    assert ended["queue"] == ""
    assert [form["CallStatus"] for path, form in app.requests if path == "/status"] == ["completed"]
    placed = [r for r in await client.messages() if r["kind"] == "call"]
    assert [(r["to"], r["sender"], r["sid"]) for r in placed] == [
        ("+447700900005", "+442071838751", call["sid"])
    ]


async def test_the_page_lists_what_was_sent_newest_first_and_escaped(sandbox: Sandbox) -> None:
    await post_twilio(
        sandbox, "Messages.json", {"To": "+447700900006", "From": "+442071838750", "Body": "first"}
    )
    await post_twilio(
        sandbox, "Messages.json", {"To": "+447700900006", "From": "+442071838750", "Body": "<b>second</b>"}
    )
    async with aiohttp.ClientSession() as http, http.get(f"{sandbox.base_url}/") as response:
        assert response.status == 200 and response.content_type == "text/html"
        page = await response.text()
    assert "&lt;b&gt;second&lt;/b&gt;" in page and "<b>second</b>" not in page
    assert page.index("<td>&lt;b&gt;second") < page.index("<td>first</td>")
    assert page.count("delivered") == 2


async def test_a_customer_who_does_not_pick_up_ends_the_placed_calls_as_scripted(
    sandbox: Sandbox, client: SandboxClient, app: TwimlApp
) -> None:
    await client.leave_unanswered("+447700900006", "busy", "no-answer")
    with pytest.raises(SandboxClientError, match="statuses: 'ringing' is none of"):
        await client.leave_unanswered("+447700900006", "ringing")
    placed = []
    for _ in range(3):
        form = {"To": "+447700900006", "From": "+442071838751", "Url": f"{app.base}/voice"}
        response = await post_twilio(sandbox, "Calls.json", {**form, "StatusCallback": f"{app.base}/status"})
        assert response.status == 201
        placed.append((await response.json())["sid"])
    # The first two end unanswered, each reported to the status callback; the third is answered.
    busy = await client.wait_call(placed[0], lambda c: c["status"] == "busy")
    assert busy["heard"][0]["verb"] == "Unanswered"
    await client.wait_call(placed[1], lambda c: c["status"] == "no-answer")
    await client.wait_call(placed[2], lambda c: c["queue"] == "sales")
    statuses = [form["CallStatus"] for path, form in app.requests if path == "/status"]
    assert statuses == ["busy", "no-answer"]
    assert not any(form.get("CallSid") in placed[:2] for path, form in app.requests if path == "/voice")
