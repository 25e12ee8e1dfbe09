"""Whether a new contact may join the queue, or is answered at once instead (pure).

A tenant's `backPressure` (ContactCenter) sets ceilings of waiting contacts: one for all of its
queues, one per queue. Routing reports how many wait now (`GetQueueDepths`); contacts this
gateway admitted since that report are counted on top, because routing has not seen them yet.
A new contact that would wait beyond a ceiling is deflected: it is told the wait it would have
had and where to help itself, instead of growing an unbounded queue. The queue's own ceiling
is checked before the tenant's: it is the narrower promise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from ccmesh import channels
from ccmesh.callback_commands import CALLABLE_CHANNELS, Command, command_in
from ccmesh.configplane.back_pressure import BackPressure, Deflection
from gateway.domain.conversation import prompt_text

Ceiling = Literal["tenant", "queue"]

#: The entry point's prompt that words the answer in the contact's language instead of the
#: tenant's message (`deflection`, `deflection.es`...; same placeholders).
DEFLECTION_PROMPT = "deflection"
#: The call back offered to a deflected customer whose channel's address is a number to call: their
#: `CALL ME` is admitted beyond the ceiling (see `asks_callback`).
CALLBACK_OFFER = "Reply CALL ME and we will call you back when it is your turn."


@dataclass(frozen=True)
class QueueLoad:
    waiting: int
    #: What a new arrival can expect there, seconds; inf: unbounded or unknown.
    estimated_wait_seconds: float = math.inf


@dataclass(frozen=True)
class TenantLoad:
    """Routing's report of the tenant's queues."""

    queues: Mapping[str, QueueLoad] = field(default_factory=dict)
    #: Contacts waiting in all of the tenant's queues.
    waiting: int = 0


@dataclass(frozen=True)
class Pending:
    """Contacts this gateway admitted that the load report does not count yet."""

    tenant: int = 0
    queues: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Deflected:
    """A new contact that is answered at once instead of queued, and why."""

    ceiling: Ceiling
    max_waiting: int
    #: Waiting (as routing reported) plus admitted since, when the contact arrived.
    waiting: int
    #: The queue it would have waited in; "" for a journey's entry point.
    queue: str
    estimated_wait_seconds: float
    deflection: Deflection

    def text(self, worded: str = "", *, callable: bool = False) -> str:
        """The answer: `worded` (the entry point's prompt) filled in, else the tenant's message.
        `callable`: the channel's address is a number to call back; `{callback}` offers it, and
        the default message (which has no placeholder for it) ends with the offer."""
        filled = self._fill(worded, callable) if worded else None
        if filled is not None:
            return filled
        text = self.deflection.template().format_map(self._values(callable))
        if callable and not self.deflection.message:
            text = f"{text} {CALLBACK_OFFER}"
        return text

    def offered(self, worded: str = "", *, callable: bool = False) -> tuple[str, ...]:
        """What the answer gives the customer (ContactDeflected.offered)."""
        used = worded if worded and self._fill(worded, callable) is not None else self.deflection.template()
        found = []
        if "{wait}" in used or "{wait_minutes}" in used:
            found.append("estimated_wait")
        if CALLBACK_OFFER in self.text(worded, callable=callable):
            found.append("callback")
        if self.deflection.self_service_url and "{self_service_url}" in used:
            found.append("self_service")
        return tuple(found)

    def _values(self, callable: bool = False) -> dict[str, str]:
        return {
            "wait": wait_phrase(self.estimated_wait_seconds),
            "wait_minutes": wait_minutes(self.estimated_wait_seconds),
            "self_service_url": self.deflection.self_service_url,
            "callback": CALLBACK_OFFER if callable else "",
        }

    def _fill(self, template: str, callable: bool = False) -> str | None:
        try:
            return template.format_map(self._values(callable))
        except (KeyError, ValueError, IndexError, AttributeError):
            # An entry point's prompt is not checked as a template on apply: a broken one is
            # not used, the tenant's (checked) message is.
            return None


def wait_phrase(seconds: float) -> str:
    """A wait as a customer is told it: rounded up to whole minutes."""
    if not math.isfinite(seconds) or seconds < 0:
        return "longer than usual"
    if seconds < 60:
        return "under a minute"
    minutes = math.ceil(seconds / 60)
    if minutes >= 120:
        return f"over {minutes // 60} hours"
    return f"about {minutes} minutes"


def wait_minutes(seconds: float) -> str:
    """The wait as a number of minutes (rounded up, at least 1) for answers in any language;
    "60+" when unknown or longer than an hour."""
    if not math.isfinite(seconds) or seconds < 0 or seconds > 3600:
        return "60+"
    return str(max(1, math.ceil(seconds / 60)))


def judge(settings: BackPressure, queue: str, load: TenantLoad, pending: Pending) -> Deflected | None:
    """None: the contact may join `queue` ("" when a journey decides its queue later)."""
    queue_load = load.queues.get(queue, QueueLoad(0)) if queue else None
    ceiling = settings.ceiling_of(queue) if queue else None
    if ceiling is not None and queue_load is not None:
        waiting = queue_load.waiting + pending.queues.get(queue, 0)
        if waiting >= ceiling.max_waiting:
            return Deflected(
                ceiling="queue",
                max_waiting=ceiling.max_waiting,
                waiting=waiting,
                queue=queue,
                estimated_wait_seconds=queue_load.estimated_wait_seconds,
                deflection=ceiling.deflection or settings.deflection,
            )
    if settings.max_waiting is not None:
        waiting = load.waiting + pending.tenant
        if waiting >= settings.max_waiting:
            return Deflected(
                ceiling="tenant",
                max_waiting=settings.max_waiting,
                waiting=waiting,
                queue=queue,
                estimated_wait_seconds=queue_load.estimated_wait_seconds if queue_load else math.inf,
                deflection=(ceiling.deflection if ceiling else None) or settings.deflection,
            )
    return None


def offers_callback(channel_kind: int) -> bool:
    """Whether a deflected contact on this channel is offered a call back (its address is a
    number to call)."""
    return channels.from_kind_or_none(channel_kind) in CALLABLE_CHANNELS


def asks_callback(channel_kind: int, text: str) -> bool:
    """A new contact's first message is `CALL ME` on a channel whose address can be called back:
    it joins its queue as a call-back request even beyond a ceiling."""
    return offers_callback(channel_kind) and command_in(text) is Command.REQUEST


def worded_by(prompts: Mapping[str, str], language: str) -> str:
    """The entry point's deflection prompt in `language` (see `prompt_text`); "" when it has none."""
    worded = prompt_text(prompts, DEFLECTION_PROMPT, language)
    return "" if worded == DEFLECTION_PROMPT and DEFLECTION_PROMPT not in prompts else worded
