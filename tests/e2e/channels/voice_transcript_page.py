"""A call's live transcript on the agent's page, in real headless Chromium, with the platform
started as `make run` starts it (media streams on): walked by `test_voice.py` on its region.

The provider sandbox plays the caller's phone: it dials the example voice number and follows the
TwiML, which starts a Media Stream of both tracks (kept on the sandbox's call). The test plays
Twilio's media engine: it opens that stream's WebSocket with the signed parameters the TwiML
gave, and sends espeak-ng speech as 8 kHz μ-law frames at real-time pace, the caller's words on
the inbound track and the agent's on the outbound one. The agent, logged in on /agent, accepts
the call and sees the transcript lines of both sides appear while the call goes on, with the AI
insights of what the caller said; the summary and the wrap-up's ticket come from the call's
words. The stream's `stop` closes the socket cleanly.

Every wait polls a condition with a generous limit (a guard against hangs, never a timing
assertion). On failure the pages' console output and the service logs' tails are printed.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from bench.voice.synthesis import silence, telephone_speech
from ccsandbox.client import SandboxClient
from contactcenter.ai.v1 import ai_pb2
from contactcenter.ai.v1.ai_pb2_grpc import AiServiceStub
from tests.e2e.cdp_browser import HeadlessChromium, Page
from tests.e2e.harness import RunningRegion, eventually

ENDPOINT = "acme-uk-voice"
FRAME_BYTES = 160
FRAME_SECONDS = 0.02
#: Phrases of the example tenant's vocabulary (its intents' examples bias its language model),
#: as its callers say them; the agent's words are transcribed by the same model.
CALLER_SAYS = ("i ordered a week ago and nothing has arrived", "i want to speak to a manager about this")
AGENT_SAYS = "i will check where your order is"


def twilio_message(event: str, **body: Any) -> str:
    return orjson.dumps({"event": event, **body}).decode()


async def play_call(
    socket: aiohttp.ClientWebSocketResponse, call_sid: str, parameters: dict[str, str]
) -> None:
    """What Twilio's media engine sends for the call: connected, start, both tracks' frames in
    real time (20 ms each), stop."""
    stream_sid = f"MZ{call_sid[2:]}"
    await socket.send_str(twilio_message("connected", protocol="Call", version="1.0.0"))
    start = {
        "streamSid": stream_sid,
        "callSid": call_sid,
        "tracks": ["inbound", "outbound"],
        "customParameters": parameters,
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
    }
    await socket.send_str(twilio_message("start", streamSid=stream_sid, start=start))
    caller = silence(0.3)
    for sentence in CALLER_SAYS:
        caller += telephone_speech(sentence) + silence(0.8)
    # The agent answers after the caller's first sentence.
    agent = silence(len(telephone_speech(CALLER_SAYS[0])) / 8000 + 0.6) + telephone_speech(AGENT_SAYS)
    agent += silence(0.6)
    loop = asyncio.get_running_loop()
    began = loop.time()
    for index in range(max(len(caller), len(agent)) // FRAME_BYTES + 1):
        for track, audio in (("inbound", caller), ("outbound", agent)):
            payload = audio[index * FRAME_BYTES : (index + 1) * FRAME_BYTES]
            if payload:
                media = {
                    "track": track,
                    "chunk": str(index + 1),
                    "timestamp": str(index * 20),
                    "payload": base64.b64encode(payload).decode(),
                }
                await socket.send_str(twilio_message("media", streamSid=stream_sid, media=media))
        pause = began + (index + 1) * FRAME_SECONDS - loop.time()
        if pause > 0:
            await asyncio.sleep(pause)
    await socket.send_str(twilio_message("stop", streamSid=stream_sid, stop={"callSid": call_sid}))


async def log_in_available(agent: Page, base: str, token: str) -> None:
    await agent.goto(f"{base}/agent")
    await agent.type_into("document.getElementById('token')", token)
    await agent.click("document.querySelector('#login-form button[type=submit]')")
    await agent.wait_for("!document.getElementById('workspace').hidden")
    await agent.evaluate(
        "(() => { const s = document.getElementById('state-select'); s.value = 'available';"
        " s.dispatchEvent(new Event('change', {bubbles: true})); })()"
    )
    await agent.wait_for("document.getElementById('state-select').dataset.state === 'available'")


#: The transcript panel's lines per side, once the caller said both sentences and the agent one.
TRANSCRIPT = """(() => {
  const lines = (track) => [...document.querySelectorAll(`#transcript .transcript-line.${track} .text`)]
    .map((e) => e.textContent);
  const caller = lines('caller'), agent = lines('agent');
  return caller.length >= 2 && agent.length >= 1 ? {caller, agent} : null;
})()"""


async def tenant_model_trained(region: RunningRegion) -> None:
    async with region.connect() as nc:
        ai = region.stub(nc, AiServiceStub, region.token("admin"))

        async def trained() -> str | None:
            model = await ai.GetIntentModel(ai_pb2.GetIntentModelRequest(tenant_id="acme"))
            return str(model.version) or None

        await eventually(trained, seconds=120)


def _log_tails(region: RunningRegion) -> str:
    return "\n".join(
        f"--- {service} ---\n" + "\n".join(region.log(service).splitlines()[-30:])
        for service in ("gateway", "ai")
    )


#: Dials the example voice number as a customer (`test_voice.dial_in`): the call's sid.
Dial = Callable[[RunningRegion, SandboxClient, str], Awaitable[str]]


async def walk_a_call_with_its_live_transcript(
    e2e_region: RunningRegion, sandbox: SandboxClient, chromium: str, tmp_path: Path, dial_in: Dial
) -> None:
    base = e2e_region.http_base
    async with HeadlessChromium.launch(tmp_path / "browser", chromium) as browser:
        try:
            agent = await browser.new_page("agent")
            await log_in_available(agent, base, e2e_region.token("agent", "alice"))

            # The example tenant's intent model (its examples are its speech vocabulary) is
            # trained as the platform starts: calls from then on are transcribed with it.
            await tenant_model_trained(e2e_region)
            sid = await dial_in(e2e_region, sandbox, "+447700900731")
            # The TwiML started a stream of both tracks to the endpoint's media socket.
            call = await sandbox.wait_call(sid, lambda c: bool(c["streams"]), seconds=30)
            (stream,) = call["streams"]
            assert stream["track"] == "both_tracks"
            assert stream["url"] == f"{e2e_region.ws_base}/v1/twilio/{ENDPOINT}/media"
            assert set(stream["parameters"]) == {"contact", "token"}
            contact_id = stream["parameters"]["contact"]

            offer = await agent.wait_for("document.querySelector('#offers .offer')?.textContent", seconds=60)
            assert "Voice" in offer and "support" in offer
            await agent.click("document.querySelector('#offers .offer button.accept')")
            await sandbox.wait_call(sid, lambda c: c["connected_to"] == "client:alice", seconds=30)
            # A call's conversation shows the (empty so far) transcript panel.
            await agent.wait_for("!document.getElementById('transcript-panel').hidden")

            async with e2e_region.http() as http:
                socket = await http.ws_connect(stream["url"])
                await play_call(socket, sid, stream["parameters"])
                # `stop` ends the stream: the gateway closes the socket normally.
                closing = await socket.receive(timeout=30)
                assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), closing
                assert socket.close_code == 1000

            lines = await agent.wait_for(TRANSCRIPT, seconds=120)
            assert any("manager" in line for line in lines["caller"]), lines
            assert any(line.strip() for line in lines["agent"]), lines
            # Said in this order: each side's lines by their time in the call.
            starts = await agent.evaluate(
                "[...document.querySelectorAll('#transcript .transcript-line .meta')]"
                ".map((e) => parseFloat(e.textContent))"
            )
            assert starts == sorted(starts), starts

            # The caller's words were analysed as a voice contact's messages: the insight panel
            # describes the latest spoken one (a summary asked before it is analysed misses it).
            await agent.wait_for(
                "(() => { const id = document.getElementById('insights').dataset.messageId;"
                f" const said = id.startsWith({f'MZ{sid[2:]}:caller:'!r}) ? +id.split(':').pop() : 0;"
                f" return said >= {len(lines['caller'])}; }})()",
                seconds=60,
            )
            assert await agent.evaluate("document.getElementById('insight-channel').textContent") == "Voice"
            assert await agent.evaluate("document.getElementById('insight-language').textContent") == "en"
            sentiment = await agent.evaluate("document.getElementById('insight-sentiment').textContent")
            assert sentiment != "\u2013", sentiment

            # The summary comes from what was said on the call.
            await agent.click("document.getElementById('summarize')")
            summary = await agent.wait_for(
                "(() => { const s = document.getElementById('summary').textContent;"
                " return s && s !== '\u2013' ? s : null; })()",
                seconds=30,
            )
            assert "manager" in summary.lower(), summary

            await sandbox.hang_up(sid)
            await agent.click("document.querySelector('#wrapup-form button[type=submit]')")
            wrapped = await agent.wait_for(
                "(() => { const t = document.getElementById('connection').textContent;"
                " return t.startsWith('Wrapped up') ? t : null; })()",
                seconds=30,
            )
            assert "ticket:" in wrapped, wrapped

            async def ticket() -> Any:
                found = [
                    e.ai_ticket
                    for e in await e2e_region.contact_events(contact_id)
                    if e.WhichOneof("payload") == "ai_ticket"
                ]
                return found[-1] if found else None

            drafted = await eventually(ticket)
            # Both sides of the call are in the ticket's summary.
            assert "manager" in drafted.summary.lower(), drafted.summary
            assert "Agent:" in drafted.summary, drafted.summary
        except BaseException:
            print(browser.console_report())
            print(_log_tails(e2e_region))
            raise
