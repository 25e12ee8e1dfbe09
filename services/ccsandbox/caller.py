"""The customer on the phone: follows the TwiML the platform answers, as Twilio's voice engine does.

A call starts as a customer dialling in (`dial_in`: the endpoint's voice webhook is fetched) or
as the platform placing one through the Calls API (`place`: the customer answers and `Url` is
fetched). Then each document is played verb by verb:

- `Say`, `Play`: heard (kept in the call's transcript); `Pause`: waited (times `pause_scale`);
- `Gather`: the next answer the customer has ready (keys or words, see `answer`) is posted to
  the `action` URL as `Digits` or `SpeechResult`; with none ready by the timeout, an empty
  result is posted when `actionOnEmptyResult` is true, otherwise the document goes on;
- `Enqueue`: the caller waits in the named queue; its `waitUrl` is fetched with QueuePosition,
  QueueTime, AvgQueueTime and CurrentQueueSize, and played again and again (`Redirect`, `Leave`,
  `Hangup` and a `Gather` for a key understood) until the call is redirected or hung up;
- `Dial`: the caller is connected to the Client, Number, Sip or Queue named, until hang-up;
- `Redirect`: the URL's TwiML replaces the document; `Hangup` or the document's end ends the call;
- `Start` with `Stream`: the media stream Twilio would open (url, track, parameters) is kept in the
  call's `streams` (a test opens the socket and plays the audio, as Twilio's media engine does).

A live call redirected through the Calls API (`redirect`) drops what it was doing and plays the
new TwiML (`Twiml`) or fetches it (`Url`). When the call ends (the caller hangs up, or the TwiML
ends it) its status callback gets `CallStatus=completed`. Every request is signed with the
account's auth token as Twilio signs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp

from ccsandbox.signing import sign
from ccsandbox.state import new_id

log = logging.getLogger(__name__)

#: Twilio waits this long for a webhook's answer before it gives up on the call.
WEBHOOK_TIMEOUT_SECONDS = 15.0
#: Transcript entries kept per call.
MAX_HEARD = 400
#: How long a call's cancelled task has to end before it is cancelled again.
STOP_RETRY_SECONDS = 0.5
ENDED = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})
#: How a placed call can end without being answered.
UNANSWERED = frozenset({"busy", "no-answer", "failed"})


class CallNotLive(Exception):
    """The call has ended (or never existed): it cannot be redirected."""


class _WebhookFailed(Exception):
    pass


class _HungUp(Exception):
    """`<Hangup/>` in the wait TwiML: the call is over."""


class _Leave(Exception):
    """`<Leave/>` in the wait TwiML: the caller leaves the queue."""


@dataclass
class LiveCall:
    sid: str
    account_sid: str
    auth_token: str = field(repr=False)
    #: The customer's number, and the platform's number the call is to or from.
    caller: str
    number: str
    #: inbound (the customer called) or outbound-api (placed through the Calls API).
    direction: str
    status_callback: str = ""
    status: str = "ringing"
    queue: str = ""
    connected_to: str = ""
    started_at: float = field(default_factory=time.time)
    queued_at: float = 0.0
    ended_at: float = 0.0
    #: What the caller heard and did, in order: {"verb", "text", "attrs", "at"}.
    heard: list[dict[str, Any]] = field(default_factory=list)
    answers: asyncio.Queue[str] = field(default_factory=asyncio.Queue, repr=False)
    task: asyncio.Task[None] | None = field(default=None, repr=False)
    #: The document being played: a Gather without `action` posts back to it.
    current_url: str = ""
    #: Media streams the TwiML started: {"url", "track", "parameters"}.
    streams: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ended(self) -> bool:
        return self.status in ENDED

    def hear(self, verb: str, text: str = "", **attrs: str) -> None:
        self.heard.append({"verb": verb, "text": text, "attrs": attrs, "at": time.time()})
        # A caller on hold for long hears the same words again and again: keep the start and the end.
        if len(self.heard) > MAX_HEARD:
            del self.heard[MAX_HEARD // 2 : MAX_HEARD // 2 + 1]

    def params(self) -> dict[str, str]:
        # Twilio's From/To are the call's own: on a call we placed, From is the platform's number.
        inbound = self.direction == "inbound"
        return {
            "AccountSid": self.account_sid,
            "CallSid": self.sid,
            "From": self.caller if inbound else self.number,
            "To": self.number if inbound else self.caller,
            "Direction": self.direction,
            "CallStatus": self.status,
            "ApiVersion": "2010-04-01",
        }

    def resource(self) -> dict[str, Any]:
        """The call as Twilio's Calls API shows it."""
        return {
            "sid": self.sid,
            "account_sid": self.account_sid,
            "from": self.params()["From"],
            "to": self.params()["To"],
            "direction": self.direction,
            "status": "queued" if self.status == "ringing" else self.status,
            "api_version": "2010-04-01",
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Calls/{self.sid}.json",
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "sid": self.sid,
            "account_sid": self.account_sid,
            "caller": self.caller,
            "number": self.number,
            "direction": self.direction,
            "status": self.status,
            "queue": self.queue,
            "connected_to": self.connected_to,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "heard": list(self.heard),
            "streams": list(self.streams),
        }


_Source = Callable[[], Awaitable[ET.Element | None]]


class Caller:
    def __init__(self, *, pause_scale: float = 1.0, answer_placed_calls: bool = True) -> None:
        self.pause_scale = pause_scale
        self.answer_placed_calls = answer_placed_calls
        self._calls: dict[str, LiveCall] = {}
        #: (account, queue name) -> CallSids waiting, first in line first.
        self._queues: dict[tuple[str, str], list[str]] = {}
        #: (account, queue name) -> seconds each caller waited before leaving the queue.
        self._waited: dict[tuple[str, str], list[float]] = {}
        self._session: aiohttp.ClientSession | None = None
        #: Number -> how the next calls placed to it end unanswered ("no-answer", "busy", "failed").
        self._unanswered: dict[str, list[str]] = {}
        self._ending: set[asyncio.Task[None]] = set()

    def leave_unanswered(self, number: str, *statuses: str) -> None:
        """The next calls placed to `number` end with these statuses, one each, in order: the
        customer does not pick up (no-answer), is on another call (busy), or is unreachable."""
        unknown = [status for status in statuses if status not in UNANSWERED]
        if unknown:
            raise ValueError(f"statuses: {unknown[0]!r} is none of {sorted(UNANSWERED)}")
        self._unanswered.setdefault(number, []).extend(statuses)

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=WEBHOOK_TIMEOUT_SECONDS))

    async def stop(self) -> None:
        tasks = [c.task for c in self._calls.values() if c.task is not None and not c.task.done()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._session is not None:
            await self._session.close()

    # -- calls ---------------------------------------------------------------------------------
    def get(self, sid: str) -> LiveCall | None:
        return self._calls.get(sid)

    def calls(self) -> list[LiveCall]:
        return list(self._calls.values())

    def dial_in(
        self,
        *,
        url: str,
        account_sid: str,
        auth_token: str,
        caller: str,
        number: str,
        status_callback: str = "",
        answers: tuple[str, ...] = (),
    ) -> LiveCall:
        """A customer calls `number`; Twilio fetches the number's voice webhook `url`."""
        call = LiveCall(new_id("CA"), account_sid, auth_token, caller, number, "inbound", status_callback)
        return self._begin(call, url, answers)

    def place(
        self,
        *,
        account_sid: str,
        auth_token: str,
        caller: str,
        number: str,
        url: str = "",
        twiml: str = "",
        status_callback: str = "",
    ) -> LiveCall:
        """The platform calls the customer (Calls API); the customer answers at once."""
        call = LiveCall(
            new_id("CA"), account_sid, auth_token, caller, number, "outbound-api", status_callback
        )
        unanswered = self._unanswered.get(caller)  # the customer being called
        if unanswered:
            self._calls[call.sid] = call
            call.hear("Unanswered", unanswered[0])
            ending = asyncio.create_task(self._end(call, unanswered.pop(0)), name=f"call {call.sid} ends")
            self._ending.add(ending)
            ending.add_done_callback(self._ending.discard)
            return call
        if not self.answer_placed_calls:
            self._calls[call.sid] = call  # ringing: whoever plays the customer fetches its Url
            return call
        return self._begin(call, url, (), twiml=twiml)

    def _begin(self, call: LiveCall, url: str, answers: tuple[str, ...], twiml: str = "") -> LiveCall:
        for answer in answers:
            call.answers.put_nowait(answer)
        self._calls[call.sid] = call
        call.status = "in-progress"
        source = self._parsed(twiml) if twiml else self._fetched(call, url)
        call.task = asyncio.create_task(self._run(call, source), name=f"call {call.sid}")
        return call

    def answer(self, sid: str, *answers: str) -> LiveCall:
        """What the customer will key or say at the next `<Gather>`s."""
        call = self._live(sid)
        for answer in answers:
            call.answers.put_nowait(answer)
        return call

    async def redirect(self, sid: str, *, twiml: str = "", url: str = "") -> LiveCall:
        """The Calls API changed the live call: it plays `twiml`, or fetches `url`, from now on.

        What the call was doing has ended before the answer, as with Twilio: a redirected caller
        is out of its queue (and off its dial) by the time the Calls API answers, never after."""
        call = self._live(sid)
        await _stop(call.task)
        call = self._live(sid)  # the caller may have hung up meanwhile
        call.hear("Redirected", url or "twiml")
        source = self._parsed(twiml) if twiml else self._fetched(call, url)
        call.task = asyncio.create_task(self._run(call, source), name=f"call {call.sid}")
        return call

    async def hang_up(self, sid: str, *, by: str = "caller") -> LiveCall:
        call = self._live(sid)
        await _stop(call.task)
        call.hear("Hangup", by)
        await self._end(call, "completed")
        return call

    def _live(self, sid: str) -> LiveCall:
        call = self._calls.get(sid)
        if call is None or call.ended:
            raise CallNotLive(sid)
        return call

    # -- following the TwiML ---------------------------------------------------------------------
    async def _run(self, call: LiveCall, source: _Source) -> None:
        try:
            document = await source()
            while document is not None:
                document = await self._play(call, document)
        except _HungUp:
            pass
        except _WebhookFailed as failure:
            # Twilio says "an application error has occurred" and ends the call.
            call.hear("error", str(failure))
        except asyncio.CancelledError:
            raise
        except Exception as error:  # a malformed document must end the call, not the sandbox
            call.hear("error", f"{type(error).__name__}: {error}")
        if not call.ended:
            await self._end(call, "completed")

    async def _play(self, call: LiveCall, document: ET.Element) -> ET.Element | None:
        for verb in document:
            tag = verb.tag
            if tag in ("Say", "Play"):
                call.hear(tag, (verb.text or "").strip())
            elif tag == "Pause":
                await self._pause(verb)
            elif tag == "Gather":
                following = await self._gather(call, verb)
                if following is not None:
                    return following
            elif tag == "Enqueue":
                following = await self._enqueue(call, verb)
                if following is not None:
                    return following
            elif tag == "Dial":
                await self._dial(call, verb)
            elif tag == "Redirect":
                return await self._fetch(call, (verb.text or "").strip(), verb.get("method", "POST"))
            elif tag == "Hangup":
                call.hear("Hangup", "twiml")
                return None
            elif tag == "Reject":
                call.hear("Reject", verb.get("reason", "rejected"))
                await self._end(call, "busy")
                return None
            elif tag == "Start":
                for stream in verb.iter("Stream"):
                    call.streams.append(
                        {
                            "url": stream.get("url", ""),
                            "track": stream.get("track", "inbound_track"),
                            "parameters": {
                                p.get("name", ""): p.get("value", "") for p in stream.iter("Parameter")
                            },
                        }
                    )
            else:
                call.hear("unknown", tag)
        return None

    async def _pause(self, verb: ET.Element) -> None:
        seconds = _number(verb.get("length"), 1.0)
        await asyncio.sleep(max(0.0, seconds) * self.pause_scale)

    async def _gather(self, call: LiveCall, verb: ET.Element, **heard: str) -> ET.Element | None:
        for prompt in verb:
            if prompt.tag in ("Say", "Play"):
                call.hear(prompt.tag, (prompt.text or "").strip(), **heard)
            elif prompt.tag == "Pause":
                await self._pause(prompt)
        listens = verb.get("input", "dtmf")
        call.hear("Gather", "", input=listens)
        timeout = _number(verb.get("timeout"), 5.0)
        try:
            answer: str | None = await asyncio.wait_for(
                call.answers.get(), max(0.05, timeout * self.pause_scale)
            )
        except TimeoutError:
            answer = None
        if answer is None and verb.get("actionOnEmptyResult", "false") != "true":
            return None
        fields: dict[str, str] = {}
        if answer:
            keys = answer.replace("#", "").replace("*", "")
            if "dtmf" in listens and keys.isdigit():
                fields["Digits"] = answer
            else:
                fields |= {"SpeechResult": answer, "Confidence": "0.92"}
            call.hear("Answered", answer)
        action = verb.get("action") or call.current_url
        return await self._fetch(call, action, verb.get("method", "POST"), fields)

    async def _enqueue(self, call: LiveCall, verb: ET.Element) -> ET.Element | None:
        name = (verb.text or "").strip()
        key = (call.account_sid, name)
        call.queue, call.queued_at = name, time.time()
        line = self._queues.setdefault(key, [])
        line.append(call.sid)
        call.hear("Enqueue", name)
        wait_url, method = verb.get("waitUrl", ""), verb.get("waitUrlMethod", "POST")
        try:
            while True:
                if not wait_url:
                    await asyncio.Event().wait()  # silence until the call is redirected or hung up
                document = await self._fetch(call, wait_url, method, self._queue_fields(call, key))
                await self._hold(call, document, key, method)
        except _Leave:
            result = "leave"
        finally:
            if call.sid in line:
                line.remove(call.sid)
            self._waited.setdefault(key, []).append(time.time() - call.queued_at)
            call.queue = ""
        action = verb.get("action")
        if action:
            return await self._fetch(call, action, verb.get("method", "POST"), {"QueueResult": result})
        return None

    async def _hold(
        self, call: LiveCall, document: ET.Element | None, key: tuple[str, str], method: str
    ) -> None:
        """Play one wait document; a `<Redirect>` fetches the next one (with the queue's numbers)."""
        played = 0
        while document is not None:
            following: ET.Element | None = None
            for verb in document:
                played += 1
                if verb.tag in ("Say", "Play"):
                    call.hear(verb.tag, (verb.text or "").strip(), waiting="true")
                elif verb.tag == "Pause":
                    await self._pause(verb)
                elif verb.tag == "Gather":
                    # A key pressed on hold: its action's TwiML is played instead of the rest.
                    following = await self._gather(call, verb, waiting="true")
                    if following is not None:
                        break
                elif verb.tag == "Leave":
                    raise _Leave
                elif verb.tag == "Hangup":
                    call.hear("Hangup", "twiml")
                    raise _HungUp
                elif verb.tag == "Redirect":
                    url = (verb.text or "").strip()
                    following = await self._fetch(
                        call, url, verb.get("method", method), self._queue_fields(call, key)
                    )
                    break
            document = following
        # Twilio plays the wait URL again when its document ends; never spin on an empty one.
        await asyncio.sleep(max(0.05, self.pause_scale) if played else 1.0)

    def _queue_fields(self, call: LiveCall, key: tuple[str, str]) -> dict[str, str]:
        line = self._queues.get(key, [])
        waited = self._waited.get(key, [])
        average = sum(waited[-50:]) / len(waited[-50:]) if waited else 0.0
        return {
            "QueueSid": "QU" + _digest(f"{key[0]}/{key[1]}"),
            "QueuePosition": str(line.index(call.sid) + 1 if call.sid in line else 0),
            "QueueTime": str(int(time.time() - call.queued_at)),
            "AvgQueueTime": str(int(average)),
            "CurrentQueueSize": str(len(line)),
        }

    async def _dial(self, call: LiveCall, verb: ET.Element) -> None:
        targets = [f"{child.tag.lower()}:{(child.text or '').strip()}" for child in verb]
        target = targets[0] if targets else f"number:{(verb.text or '').strip()}"
        call.connected_to = target
        call.hear("Dial", target)
        # Connected: the conversation goes on until someone hangs up or the call is redirected.
        await asyncio.Event().wait()

    # -- requests to the platform ----------------------------------------------------------------
    def _parsed(self, twiml: str) -> _Source:
        async def parse() -> ET.Element | None:
            return _document(twiml)

        return parse

    def _fetched(self, call: LiveCall, url: str) -> _Source:
        async def fetch() -> ET.Element | None:
            return await self._fetch(call, url, "POST")

        return fetch

    async def _fetch(
        self, call: LiveCall, url: str, method: str = "POST", extra: dict[str, str] | None = None
    ) -> ET.Element | None:
        assert self._session is not None, "the caller is not started"
        if not url:
            raise _WebhookFailed("no URL to fetch")
        params = {**call.params(), **(extra or {})}
        if method.upper() == "GET":
            target = f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"
            headers = {"X-Twilio-Signature": sign(target, {}, call.auth_token)}
            request = self._session.get(target, headers=headers)
        else:
            target = url
            headers = {
                "X-Twilio-Signature": sign(url, params, call.auth_token),
                "Content-Type": "application/x-www-form-urlencoded",
            }
            request = self._session.post(url, data=urlencode(params), headers=headers)
        try:
            async with request as response:
                body = await response.text()
                if response.status != 200:
                    raise _WebhookFailed(f"{url}: HTTP {response.status} {body[:200]}")
        except (aiohttp.ClientError, TimeoutError) as error:
            raise _WebhookFailed(f"{url}: {type(error).__name__}") from None
        call.current_url = target
        return _document(body)

    async def _end(self, call: LiveCall, status: str) -> None:
        if call.ended:
            return
        call.status, call.ended_at = status, time.time()
        if call.status_callback:
            fields = {"CallDuration": str(int(call.ended_at - call.started_at))}
            try:
                await self._fetch(call, call.status_callback, "POST", fields)
            except _WebhookFailed as failure:
                log.warning("status callback of %s failed: %s", call.sid, failure)


def _document(body: str) -> ET.Element:
    root = ET.fromstring(body.strip() or "<Response/>")  # noqa: S314 - the platform's own TwiML
    if root.tag != "Response":
        raise _WebhookFailed(f"not TwiML: root element <{root.tag}>")
    return root


def _number(raw: str | None, default: float) -> float:
    try:
        return float(raw) if raw else default
    except ValueError:
        return default


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


async def _stop(task: asyncio.Task[None] | None) -> None:
    """Ends what a call was doing, cancelling again until it has ended: a cancellation can be
    dropped (Python 3.11's `wait_for` drops one that meets the awaited result in the same loop
    pass), and a call's old task left running would keep its place in the queue beside the new one."""
    if task is None or task is asyncio.current_task():
        return
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=STOP_RETRY_SECONDS)
