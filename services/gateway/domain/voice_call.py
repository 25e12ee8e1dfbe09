"""A customer's live phone call, and the TwiML that connects it to the agent who took it.

The gateway answers Twilio's voice webhooks; when the journey hands the call to a queue the caller
waits in Twilio's `<Enqueue>`. Routing's ACD then offers the contact to an agent; once the agent
accepts, the waiting call is redirected (Twilio's Calls API) to TwiML that dials the agent's
softphone client, or the agent's phone number when the profile gives one. Twilio's status
callback says when a call ended: a caller who hangs up while still queued abandoned the contact.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

import orjson

from gateway.domain.conversation import JourneyAction, prompt_text
from gateway.domain.outbound_message import DeliveryFailed
from gateway.domain.twiml import VoiceUrls, render_voice

#: Twilio's CallStatus values after which the call is over.
ENDED_STATUSES = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})
#: Every CallStatus Twilio documents for a status callback.
CALL_STATUSES = frozenset({"queued", "initiated", "ringing", "in-progress"}) | ENDED_STATUSES
#: Twilio's error code for "call is not in-progress, cannot redirect" (a call that already ended).
CALL_NOT_IN_PROGRESS = 21220
#: ContactClosed.outcome of a caller who hung up while waiting for an agent.
ABANDONED = "abandoned"


@dataclass(frozen=True)
class VoiceCall:
    """What the gateway knows of one call (Twilio's CallSid) of a contact."""

    call_sid: str
    contact_id: str
    #: The voice ChannelEndpoint the call came through (its credentials redirect the call).
    endpoint: str
    #: The journey handed the call to a queue: the caller waits for an agent.
    queued: bool = False
    #: The agent who accepted the contact while the call was live ("" before).
    accepted_by: str = ""
    #: Twilio's last CallStatus we were told; "" while nothing was reported.
    status: str = ""
    #: The wait URL the caller's `<Enqueue>` named: a transferred caller waits with it again.
    wait_url: str = ""

    @property
    def ended(self) -> bool:
        return self.status in ENDED_STATUSES

    @property
    def waiting_for_agent(self) -> bool:
        return self.queued and not self.accepted_by and not self.ended

    def answered(self, *, queued: bool, wait_url: str = "") -> VoiceCall:
        # Twilio's retry of an earlier step must not un-queue a call that already waits.
        return replace(self, queued=self.queued or queued, wait_url=self.wait_url or wait_url)

    def accepted(self, agent_id: str) -> VoiceCall:
        return replace(self, accepted_by=self.accepted_by or agent_id)

    def left_for_callback(self) -> VoiceCall:
        """The caller hangs up to be called back: their hang-up abandons nothing, and an agent's
        accept places the call back instead of redirecting this call."""
        return replace(self, queued=False)

    def requeued(self) -> VoiceCall:
        """Transferred by its agent: the caller waits for the next one."""
        return replace(self, queued=True, accepted_by="")

    def reported(self, status: str) -> VoiceCall:
        # An ended call stays ended: Twilio's callbacks can arrive out of order.
        return self if self.ended else replace(self, status=status)

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def from_json(cls, data: bytes) -> VoiceCall:
        raw: dict[str, Any] = orjson.loads(data)
        return cls(
            call_sid=str(raw["call_sid"]),
            contact_id=str(raw["contact_id"]),
            endpoint=str(raw.get("endpoint", "")),
            queued=bool(raw.get("queued", False)),
            accepted_by=str(raw.get("accepted_by", "")),
            status=str(raw.get("status", "")),
            wait_url=str(raw.get("wait_url", "")),
        )


#: What a caller to a queue-only endpoint hears first, unless its prompts say `greeting`.
DEFAULT_GREETING = "Thank you for calling. Please hold while we connect you to an agent."
#: What a transferred caller hears before waiting again, unless the prompts say `transferring`.
DEFAULT_TRANSFERRING = "Please hold while we transfer your call."


def queue_entry(queue: str, prompts: Mapping[str, str], language: str) -> tuple[JourneyAction, ...]:
    """A queue-only endpoint's call: the greeting, then the queue (rendered as Say + Enqueue)."""
    greeting = prompt_text(prompts, "greeting", language)
    return (
        JourneyAction(
            kind="send_prompt",
            node="",
            name="greeting",
            text=greeting if greeting != "greeting" else DEFAULT_GREETING,
        ),
        JourneyAction(kind="hand_off", node="", name=queue),
    )


def transferring_prompt(prompts: Mapping[str, str], language: str) -> str:
    text = prompt_text(prompts, "transferring", language)
    return text if text != "transferring" else DEFAULT_TRANSFERRING


def dial_agent_twiml(agent_id: str, phone: str = "") -> str:
    """`<Response><Dial><Client>agent</Client></Dial></Response>` (or `<Number>` for a phone).

    Rendered by the journey's TwiML builder, so the agent id is escaped like any prompt.
    """
    target = phone if phone else f"client:{agent_id}"
    # A Dial has no gather or hold step: the URLs are never used.
    return render_voice([JourneyAction(kind="dial", node="", name=target)], urls=VoiceUrls("", ""))


def call_has_ended(status: int, code: object) -> bool:
    """Twilio's answer to a redirect says the call is gone (404) or no longer in progress (21220)."""
    return status == 404 or code == CALL_NOT_IN_PROGRESS or str(code) == str(CALL_NOT_IN_PROGRESS)


class CallEnded(DeliveryFailed):
    """Twilio cannot redirect the call: it already ended. Recorded, never retried."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, transient=False)
