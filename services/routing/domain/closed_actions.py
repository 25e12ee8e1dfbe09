"""What happens to a contact that reaches a queue outside its hours (pure).

A closed queue is a business condition, not a fault: every action ends with the customer
served or told, never with the contact dropped (the dead-letter stream is for faults).

- `queue`: another queue takes the contact, keeping its arrival time; in another region, the
  contact is handed over there as an overflow move would (`acd_handover`).
- `message`: the customer is sent the queue's closed message on their channel and the contact
  leaves routing (closed, outcome `queue_closed`).
- `callback`: the customer keeps their place: the contact waits in the queue as a call-back
  request, with its arrival time, and is told so. It is offered like any contact when an agent
  who can take it is free (at the latest once the queue opens and agents log in); when the
  agent accepts, the call back is placed (CallbackRequested).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from routing.domain.overflow import OverflowRule
from routing.domain.queueing import QueueSpec

DEFAULT_TEXTS = {
    "message": "We are closed right now. Please contact us again during our opening hours.",
    "callback": (
        "We are closed right now. We will call you back as soon as an agent is free; "
        "you keep your place in the queue."
    ),
}
#: Outcome of a contact a closed queue turned away with a message.
CLOSED_OUTCOME = "queue_closed"


@dataclass(frozen=True, slots=True)
class ClosedOutcome:
    action: str
    #: The queue the contact waits in: the target (queue), its own (callback), "" (message).
    queue: str
    #: The region whose queue takes it ("": this region).
    region: str = ""
    #: What the customer is told on their channel ("": nothing).
    text: str = ""

    @property
    def hands_over(self) -> bool:
        return bool(self.region)


def when_closed(queue: QueueSpec, at: dt.datetime, region: str = "") -> ClosedOutcome | None:
    """The closed action for a contact reaching `queue` at `at`; None while the queue is open.

    `region` is this routing instance's: a target in it is a plain local move.
    """
    hours = queue.hours
    if hours is None or hours.is_open(at):
        return None
    action = hours.closed_action
    if action == "queue":
        target_region = hours.closed_target_region if hours.closed_target_region != region else ""
        return ClosedOutcome("queue", hours.closed_target_queue, target_region)
    text = hours.closed_message or DEFAULT_TEXTS[action]
    return ClosedOutcome(action, queue.name if action == "callback" else "", "", text)


def hand_over_rule(queue: QueueSpec, outcome: ClosedOutcome) -> OverflowRule:
    """The move to another region's queue as an overflow rule, for the hand-over machinery."""
    return OverflowRule(
        name=f"{queue.name}-closed",
        queue=queue.name,
        target_queue=outcome.queue,
        target_region=outcome.region,
        action="move",
        wait_seconds_over=0.0,
    )
