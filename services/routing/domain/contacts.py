"""A routed contact's record and its legal transitions (pure).

    waiting --offer(r)--> offered(r) --accept(r)--> assigned(r) --complete--> closed
                             '--decline/timeout(r)--> waiting   (same enqueued_at: original position)
    waiting --hand_over(r)--> transferring(r) --handed_over(r)--> transferred   (another region took it)
                                  '--hand_back(r)--> waiting   (the other region refused it)

    assigned(r) --transfer_queue--> waiting (another queue, a new arrival there; an agent's transfer)
    waiting/offered(r)/assigned(r) --abandon--> closed   (the contact closed outside the ACD)

`transferring` holds the contact while another region's routing service is asked to take it
(cross-region overflow): nobody here may offer it meanwhile, and it leaves this region's queue
(`transferred`) only once the other region has stored it, so a failure in between loses nothing.

Every transition names the reservation it expects, so a late or repeated command (a timeout
racing an accept, a second router offering the same contact) fails instead of double-routing.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

from routing.domain.agents import AcdInputError
from routing.domain.overflow import NO_MARK, OverflowMark
from routing.domain.queueing import WaitingContact
from routing.domain.reservations import ReservationError


class ContactStatus(enum.StrEnum):
    WAITING = "waiting"
    OFFERED = "offered"
    ASSIGNED = "assigned"
    CLOSED = "closed"
    TRANSFERRING = "transferring"
    TRANSFERRED = "transferred"


@dataclass(frozen=True)
class ContactRecord:
    contact: WaitingContact
    status: ContactStatus = ContactStatus.WAITING
    reservation_id: str = ""
    agent_id: str = ""
    deadline: float = 0.0
    offers: int = 0
    #: Agents that declined or let the offer time out; not offered the contact again.
    passed_by: tuple[str, ...] = ()
    #: Queues whose agents may also take the contact (overflow `widen`); it stays in its own.
    widened_to: tuple[str, ...] = ()
    #: When an agent accepted it (0: not yet); what the measured service level is made of.
    answered_at: float = 0.0
    #: "<region>/<queue>" while transferring or once transferred to another region.
    transfer_to: str = ""
    #: The closed-queue action that applied on arrival ("": the queue was open): "callback",
    #: a call-back request that keeps the customer's place and is called back once an agent
    #: accepts it; "message", the customer was told the queue is closed and the contact left.
    closed_action: str = ""
    #: When it closed (completed, abandoned or turned away); 0: not closed. With `answered_at`
    #: it gives the handle time the prediction measures.
    closed_at: float = 0.0
    #: The last overflow move (for the hysteresis that keeps contacts from bouncing).
    overflow: OverflowMark = NO_MARK
    #: Why the last offer went to its agent (the routing decision, as its explanation's JSON
    #: text, opaque here): written by the offer's own write, so it costs no write of its own.
    explanation: str = ""


def offer(
    record: ContactRecord, reservation_id: str, agent_id: str, deadline: float, explanation: str = ""
) -> ContactRecord:
    """`explanation`: why this agent (see `ContactRecord.explanation`); "" keeps the last one."""
    if record.status is not ContactStatus.WAITING:
        raise ReservationError(f"contact {record.contact.contact_id} is {record.status.value}, not waiting")
    return replace(
        record,
        status=ContactStatus.OFFERED,
        reservation_id=reservation_id,
        agent_id=agent_id,
        deadline=deadline,
        offers=record.offers + 1,
        explanation=explanation or record.explanation,
    )


def widen(record: ContactRecord, queue: str) -> ContactRecord:
    """Let `queue`'s agents take the waiting contact too; it keeps its queue and position."""
    if record.status is not ContactStatus.WAITING:
        raise ReservationError(f"contact {record.contact.contact_id} is {record.status.value}, not waiting")
    if queue == record.contact.queue or queue in record.widened_to:
        return record
    return replace(record, widened_to=(*record.widened_to, queue))


def _expect_offer(record: ContactRecord, reservation_id: str) -> None:
    if record.status is not ContactStatus.OFFERED or record.reservation_id != reservation_id:
        raise ReservationError(
            f"contact {record.contact.contact_id} has no open offer {reservation_id!r} "
            f"({record.status.value})"
        )


def requeue(record: ContactRecord, reservation_id: str, *, passed: bool) -> ContactRecord:
    """Back to waiting at the original position; `passed` remembers the agent (decline/timeout)."""
    _expect_offer(record, reservation_id)
    passed_by = (*record.passed_by, record.agent_id) if passed else record.passed_by
    return replace(
        record,
        status=ContactStatus.WAITING,
        reservation_id="",
        agent_id="",
        deadline=0.0,
        passed_by=passed_by,
    )


def assign(record: ContactRecord, reservation_id: str, now: float = 0.0) -> ContactRecord:
    _expect_offer(record, reservation_id)
    return replace(record, status=ContactStatus.ASSIGNED, deadline=0.0, answered_at=now)


def close(record: ContactRecord, reservation_id: str, now: float = 0.0) -> ContactRecord:
    if record.status is not ContactStatus.ASSIGNED or record.reservation_id != reservation_id:
        raise ReservationError(
            f"contact {record.contact.contact_id} is not assigned under {reservation_id!r}"
        )
    return replace(record, status=ContactStatus.CLOSED, closed_at=now)


def unassign(record: ContactRecord, reservation_id: str) -> ContactRecord:
    """Undo an accept whose agent slot vanished: back to waiting at the original position."""
    if record.status is not ContactStatus.ASSIGNED or record.reservation_id != reservation_id:
        raise ReservationError(
            f"contact {record.contact.contact_id} is not assigned under {reservation_id!r}"
        )
    return replace(
        record, status=ContactStatus.WAITING, reservation_id="", agent_id="", deadline=0.0, answered_at=0.0
    )


def move(record: ContactRecord, queue: str, mark: OverflowMark | None = None) -> ContactRecord:
    """Overflow: a waiting contact changes queue and keeps its arrival time (and so its position).

    `mark` records the move for the overflow hysteresis (which queue it left, when).
    """
    if record.status is not ContactStatus.WAITING:
        raise ReservationError(f"contact {record.contact.contact_id} is {record.status.value}, not waiting")
    widened_to = tuple(q for q in record.widened_to if q != queue)
    return replace(
        record,
        contact=replace(record.contact, queue=queue),
        widened_to=widened_to,
        overflow=record.overflow if mark is None else mark,
    )


def call_back_later(contact: WaitingContact) -> ContactRecord:
    """A contact that reached a closed queue whose action is a call back: it waits as a request."""
    return ContactRecord(contact, closed_action="callback")


def turn_away(contact: WaitingContact, now: float) -> ContactRecord:
    """A contact a closed queue answered with a message: it leaves routing at once."""
    return ContactRecord(contact, ContactStatus.CLOSED, closed_at=now, closed_action="message")


def hand_over(
    record: ContactRecord, reservation_id: str, region: str, queue: str, deadline: float
) -> ContactRecord:
    """Hold a waiting contact while `region`'s `queue` is asked to take it (until `deadline`)."""
    if record.status is not ContactStatus.WAITING:
        raise ReservationError(f"contact {record.contact.contact_id} is {record.status.value}, not waiting")
    return replace(
        record,
        status=ContactStatus.TRANSFERRING,
        reservation_id=reservation_id,
        deadline=deadline,
        transfer_to=f"{region}/{queue}",
    )


def _expect_transfer(record: ContactRecord, reservation_id: str) -> None:
    if record.status is not ContactStatus.TRANSFERRING or record.reservation_id != reservation_id:
        raise ReservationError(
            f"contact {record.contact.contact_id} has no open transfer {reservation_id!r} "
            f"({record.status.value})"
        )


def handed_over(record: ContactRecord, reservation_id: str) -> ContactRecord:
    """The other region stored the contact: it leaves this region's queue for good."""
    _expect_transfer(record, reservation_id)
    return replace(record, status=ContactStatus.TRANSFERRED, deadline=0.0)


def hand_back(record: ContactRecord, reservation_id: str) -> ContactRecord:
    """The other region refused the contact: back to waiting here, at its original position."""
    _expect_transfer(record, reservation_id)
    return replace(record, status=ContactStatus.WAITING, reservation_id="", deadline=0.0, transfer_to="")


def retake_transfer(
    record: ContactRecord, reservation_id: str, new_reservation_id: str, deadline: float
) -> ContactRecord:
    """Another instance resumes a transfer whose instance stopped before finishing it."""
    _expect_transfer(record, reservation_id)
    return replace(record, reservation_id=new_reservation_id, deadline=deadline)


def transfer_queue(
    record: ContactRecord,
    agent_id: str,
    queue: str,
    now: float,
    *,
    required_skills: frozenset[str] | None = None,
    language: str | None = None,
    priority: int | None = None,
) -> ContactRecord:
    """An agent hands the contact it holds to `queue`: it waits there as a new arrival.

    Its arrival time becomes `now` (the target queue's service level and aging count from the
    transfer, not from the customer's first arrival); channel, priority, skills and language are
    kept unless given. The transferring agent is remembered as having passed on it, so it is
    offered to someone else first.
    """
    contact_id = record.contact.contact_id
    if record.status is not ContactStatus.ASSIGNED or record.agent_id != agent_id:
        raise ReservationError(
            f"contact {contact_id} is not held by agent {agent_id!r} ({record.status.value})"
        )
    if queue == record.contact.queue:
        raise AcdInputError("queue", f"contact {contact_id} is in queue {queue!r} already")
    contact = replace(
        record.contact,
        queue=queue,
        enqueued_at=now,
        required_skills=record.contact.required_skills if required_skills is None else required_skills,
        language=record.contact.language if language is None else language,
        priority=record.contact.priority if priority is None else priority,
        preferred_agent="",
    )
    return replace(
        record,
        contact=contact,
        status=ContactStatus.WAITING,
        reservation_id="",
        agent_id="",
        deadline=0.0,
        passed_by=(agent_id,),
        widened_to=(),
        answered_at=0.0,
    )


#: Statuses a contact closed outside the ACD (the customer hung up, the chat ended) leaves.
ABANDONABLE = frozenset({ContactStatus.WAITING, ContactStatus.OFFERED, ContactStatus.ASSIGNED})


def abandon(record: ContactRecord, now: float = 0.0) -> ContactRecord:
    """The contact closed elsewhere: it leaves the queue for good. The reservation and agent
    stay on the record, so whoever finishes the agent's side knows which slot to free; a
    contact handed to another region (transferring/transferred) is that region's to close."""
    if record.status not in ABANDONABLE:
        return record
    return replace(record, status=ContactStatus.CLOSED, deadline=0.0, closed_at=now)


def gave_up(record: ContactRecord) -> bool:
    """Closed while waiting, before any agent accepted it: the customer left the queue."""
    return (
        record.status is ContactStatus.CLOSED and not record.answered_at and record.closed_action != "message"
    )
