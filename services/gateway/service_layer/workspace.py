"""The agent workspace's use cases: log in, state, answer offers, converse, transfer, wrap up.

Every call names the caller (from its verified token); the gateway talks to routing, identity
and ai with its own service identity, so the checks that an agent acts only on its own offers
and on contacts it holds are made here, before anything is asked of another service.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import grpc

from ccmesh import channels
from ccmesh.auth import Caller
from ccmesh.customer_views import timeline_entry_view
from ccmesh.status import RpcError, retryable
from contactcenter.ai.v1 import ai_pb2
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from contactcenter.gateway.v1 import gateway_pb2
from contactcenter.identity.v1 import identity_pb2
from contactcenter.routing.v1 import routing_pb2
from gateway.adapters.workspace_store import HeldContact
from gateway.domain.callback_view import number_to_call
from gateway.domain.events import ContactWrappedUp, MessageSent
from gateway.domain.inbound import is_provisional
from gateway.domain.socket_protocol import SocketError
from gateway.domain.socket_views import (
    ContactFacts,
    agent_view,
    conversation_facts,
    message_view,
    transcript_view,
)
from gateway.domain.workspace_state import (
    SETTABLE_STATES,
    STATE_NAMES,
    Offer,
    routing_agent,
)
from gateway.service_layer.ports import ContactHistory, Contacts, Desks, GatewayEvents

log = logging.getLogger(__name__)

#: Timeline entries shown beside the conversation (the newest; older ones stay in identity).
TIMELINE_ENTRIES = 50
#: How long an accept or a wrap-up keeps retrying routing and the desk while NATS elects a
#: leader (seconds to tens of seconds); both steps are idempotent, so a retry converges.
SETTLE_SECONDS = 20.0
#: The first pause between tries; it doubles up to a second.
FIRST_PAUSE_SECONDS = 0.1
#: Offers shown whose contact's facts are remembered for their accept (most recent kept).
OFFERED_FACTS = 4096

_T = TypeVar("_T")


async def until_settled(
    what: str,
    step: Callable[[], Awaitable[_T]],
    *,
    seconds: float | None = None,
    pause: float | None = None,
) -> _T:
    """Run an idempotent `step`, again after a transient failure (routing or the bucket
    unavailable, a reply lost to a timeout) until `seconds` (SETTLE_SECONDS) have passed; then
    the last failure."""
    deadline = time.monotonic() + (SETTLE_SECONDS if seconds is None else seconds)
    pause = FIRST_PAUSE_SECONDS if pause is None else pause
    while True:
        try:
            return await step()
        except Exception as error:
            if not retryable(error) or time.monotonic() + pause > deadline:
                raise
            log.warning("%s failed for now, trying again: %r", what, error)
        await asyncio.sleep(pause)
        pause = min(pause * 2, 1.0)


class RoutingClient(Protocol):
    async def UpsertAgent(self, request: routing_pb2.UpsertAgentRequest, **kwargs: Any) -> Any: ...
    async def SetAgentState(self, request: routing_pb2.SetAgentStateRequest, **kwargs: Any) -> Any: ...
    async def AgentHeartbeat(self, request: routing_pb2.AgentHeartbeatRequest, **kwargs: Any) -> Any: ...
    async def AnswerOffer(self, request: routing_pb2.AnswerOfferRequest, **kwargs: Any) -> Any: ...
    async def TransferContact(self, request: routing_pb2.TransferContactRequest, **kwargs: Any) -> Any: ...


class IdentityClient(Protocol):
    async def GetAgent(self, request: identity_pb2.GetAgentRequest, **kwargs: Any) -> Any: ...
    async def GetTimeline(self, request: identity_pb2.GetTimelineRequest, **kwargs: Any) -> Any: ...


class HomeGatewayClient(Protocol):
    """Another region's gateway, for contacts handed over from there (`region=` picks it)."""

    async def GetHandedOverContact(
        self, request: gateway_pb2.GetHandedOverContactRequest, **kwargs: Any
    ) -> Any: ...
    async def SendHandedOverReply(
        self, request: gateway_pb2.SendHandedOverReplyRequest, **kwargs: Any
    ) -> Any: ...
    async def WrapUpHandedOverContact(
        self, request: gateway_pb2.WrapUpHandedOverContactRequest, **kwargs: Any
    ) -> Any: ...
    async def AcceptHandedOverContact(
        self, request: gateway_pb2.AcceptHandedOverContactRequest, **kwargs: Any
    ) -> Any: ...


class AiClient(Protocol):
    async def SuggestReplies(self, request: ai_pb2.SuggestRepliesRequest, **kwargs: Any) -> Any: ...
    async def SummarizeConversation(
        self, request: ai_pb2.SummarizeConversationRequest, **kwargs: Any
    ) -> Any: ...
    async def WrapUpConversation(self, request: ai_pb2.WrapUpConversationRequest, **kwargs: Any) -> Any: ...


@dataclass(frozen=True)
class Login:
    display_name: str
    state: str
    #: False for a supervisor without an agent profile: the queue feed only, no contacts.
    takes_contacts: bool
    #: The contacts the agent still holds (accepted before a reconnect, not wrapped up).
    contacts: list[HeldContact]


class Workspace:
    def __init__(
        self,
        *,
        region: str,
        history: ContactHistory,
        events: GatewayEvents,
        routing: RoutingClient,
        identity: IdentityClient,
        ai: AiClient,
        store: Desks,
        contacts: Contacts,
        home_gateways: HomeGatewayClient | None = None,
    ) -> None:
        self._region = region
        # Contacts handed over from another region are read and answered through its gateway.
        self._home_gateways = home_gateways
        self._history = history
        self._events = events
        self._routing = routing
        self._identity = identity
        self._ai = ai
        self._store = store
        self._contacts = contacts
        #: (tenant, contact, reservation) -> the facts its offer view found, final (`_settled`).
        self._offered: OrderedDict[tuple[str, str, str], ContactFacts] = OrderedDict()

    # -- presence ------------------------------------------------------------------------------

    async def login(self, caller: Caller) -> Login:
        """Bring routing's copy of the agent up to identity's profile; its state is kept."""
        tenant, agent_id = caller.tenant_id, caller.subject
        try:
            found = await self._identity.GetAgent(
                identity_pb2.GetAgentRequest(tenant=common_pb2.TenantRef(tenant_id=tenant), agent_id=agent_id)
            )
        except RpcError as error:
            if error.code != grpc.StatusCode.NOT_FOUND:
                raise
            found = None
        if found is not None:
            reply = await self._routing.UpsertAgent(
                routing_pb2.UpsertAgentRequest(tenant_id=tenant, agent=routing_agent(found.agent))
            )
            name = found.agent.display_name or agent_id
        else:
            # No identity profile: routing may still know the agent (provisioned there directly).
            try:
                reply = await self._routing.AgentHeartbeat(self._presence(caller))
            except RpcError as error:
                if error.code != grpc.StatusCode.NOT_FOUND:
                    raise
                if caller.role == "agent":
                    raise SocketError("forbidden", f"agent {agent_id!r} has no agent profile") from None
                return Login(agent_id, "offline", False, [])
            name = agent_id
        desk = dict(await self._store.desk(tenant, agent_id))
        for accepted in reply.accepted:
            if accepted.contact_id not in desk:
                repaired = await self._repair_hold(caller, accepted.contact_id, accepted.reservation_id)
                if repaired is not None:
                    desk[repaired.contact_id] = repaired
        held = [desk[contact_id] for contact_id in sorted(desk)]
        return Login(name, STATE_NAMES.get(reply.state, "offline"), True, held)

    async def _repair_hold(self, caller: Caller, contact_id: str, reservation_id: str) -> HeldContact | None:
        """Record a contact routing says the agent accepted but the desk does not list: the
        gateway died (or its bucket was away) between routing's accept and the desk's write.
        Listed again, the agent gets its conversation back and can wrap it up; left out, it
        would stay assigned for good. None (left out) when the contact has no events to show."""
        local = await self._history.of_contact(caller.tenant_id, contact_id)
        offers = [e.contact_offered for e in local if e.WhichOneof("payload") == "contact_offered"]
        offer = next((o for o in reversed(offers) if o.reservation_id == reservation_id), None)
        remote = self._remote(offer.home_region) if offer is not None else ""
        events = local
        if remote:
            events, _ = await self._contact_events(caller, contact_id, remote)
        elif not local:
            log.warning("agent %s holds contact %s, which has no events here", caller.subject, contact_id)
            return None
        facts = conversation_facts(events)
        if facts.brand_id and not caller.may_see_brand(facts.brand_id):
            return None  # a brand-scoped token does not list other brands' contacts
        held = HeldContact(
            contact_id,
            reservation_id,
            offer.queue if offer is not None else "",
            facts.channel,
            "" if remote else facts.customer_id,
            facts.brand_id,
            home_region=remote,
        )
        await self._store.hold(caller.tenant_id, caller.subject, held)
        log.info(
            "agent %s holds contact %s again: its accept had not reached the desk", caller.subject, contact_id
        )
        return held

    def _presence(self, caller: Caller) -> routing_pb2.AgentHeartbeatRequest:
        return routing_pb2.AgentHeartbeatRequest(tenant_id=caller.tenant_id, agent_id=caller.subject)

    async def heartbeat(self, caller: Caller) -> str:
        reply = await self._routing.AgentHeartbeat(self._presence(caller))
        return STATE_NAMES.get(reply.state, "offline")

    async def set_state(self, caller: Caller, state: str) -> tuple[str, int]:
        reply = await self._routing.SetAgentState(
            routing_pb2.SetAgentStateRequest(
                tenant_id=caller.tenant_id,
                agent_id=caller.subject,
                state=SETTABLE_STATES[state],  # type: ignore[arg-type]
            )
        )
        return STATE_NAMES.get(reply.state, "offline"), int(reply.requeued)

    # -- offers --------------------------------------------------------------------------------

    def _remote(self, home_region: str) -> str:
        """The contact's home region when it is another one (handed over to here), else ""."""
        return home_region if home_region and home_region != self._region else ""

    def _home(self) -> HomeGatewayClient:
        if self._home_gateways is None:
            raise SocketError("unavailable", "this gateway cannot reach other regions' gateways")
        return self._home_gateways

    async def _contact_events(
        self, caller: Caller, contact_id: str, home_region: str
    ) -> tuple[list[events_pb2.Event], str]:
        """The contact's events, and the customer's display name for a handed-over contact.

        A contact handed over from another region is read from its home gateway at view time
        (that region records the read as a crossing): nothing of the customer is kept here.
        """
        remote = self._remote(home_region)
        if not remote:
            return await self._history.of_contact(caller.tenant_id, contact_id), ""
        reply = await self._home().GetHandedOverContact(
            gateway_pb2.GetHandedOverContactRequest(
                tenant=common_pb2.TenantRef(tenant_id=caller.tenant_id),
                contact_id=contact_id,
                requesting_region=self._region,
                agent_id=caller.subject,
            ),
            region=remote,
        )
        return list(reply.events), str(reply.display_name)

    async def offer_view(self, caller: Caller, offer: Offer) -> dict[str, Any]:
        events, display_name = await self._contact_events(caller, offer.contact_id, offer.home_region)
        facts = conversation_facts(events)
        _check_brand(caller, facts.brand_id)
        if _settled(facts) and not self._remote(offer.home_region):
            self._offered[_offer_key(caller, offer)] = facts
            while len(self._offered) > OFFERED_FACTS:
                self._offered.popitem(last=False)
        customer = {
            "customerId": facts.customer_id,
            "firstMessage": facts.first_message[:500],
            "displayName": facts.display_name,
        }
        view: dict[str, Any] = {
            "type": "offer",
            "reservationId": offer.reservation_id,
            "contactId": offer.contact_id,
            "queue": offer.queue,
            "channel": channels.name_of_kind(facts.channel),
            "customer": customer,
        }
        if self._remote(offer.home_region):
            customer["displayName"] = display_name
            view["homeRegion"] = offer.home_region
        if offer.callback:
            # Accepting it places the call: the agent sees whom it will ring.
            number = number_to_call(events)
            if not number and not self._remote(offer.home_region):
                # A number the customer gave for it (a chat visitor's): on the contact's record.
                record, _ = await self._contacts.contact(caller.tenant_id, offer.contact_id)
                number = record.number_to_call() if record is not None else ""
            view["callback"] = {"number": number}
        return view

    async def accept(self, caller: Caller, offer: Offer) -> HeldContact:
        # The offer view read the contact a moment ago: what the accept needs of it is known.
        facts = self._offered.pop(_offer_key(caller, offer), None)
        if facts is None:
            events, _ = await until_settled(
                f"reading {offer.contact_id}",
                lambda: self._contact_events(caller, offer.contact_id, offer.home_region),
            )
            facts = conversation_facts(events)
        _check_brand(caller, facts.brand_id)
        # Routing first, then the desk: a retry of either converges (routing answers a repeated
        # accept with the same result), so an election between the two leaves nothing half done.
        await until_settled(
            f"accepting {offer.contact_id}",
            lambda: self._answer(
                caller, offer.reservation_id, routing_pb2.OFFER_ANSWER_ACCEPT, offer.contact_id
            ),
        )
        remote = self._remote(offer.home_region)
        held = HeldContact(
            offer.contact_id,
            offer.reservation_id,
            offer.queue,
            facts.channel,
            # A handed-over contact's customer is not recorded here: their data stays home.
            "" if remote else facts.customer_id,
            facts.brand_id,
            home_region=remote,
        )
        await until_settled(
            f"holding {offer.contact_id}", lambda: self._store.hold(caller.tenant_id, caller.subject, held)
        )
        if remote:
            await self._joined_at_home(caller, held)
        return held

    async def _joined_at_home(self, caller: Caller, held: HeldContact) -> None:
        """Tell the home region that this agent accepted its contact: its customer is shown that
        an agent joined, as a customer served there is. The accept stands if the home region
        cannot be told (the conversation goes on; only that notice is missing)."""
        try:
            await self._home().AcceptHandedOverContact(
                gateway_pb2.AcceptHandedOverContactRequest(
                    tenant=common_pb2.TenantRef(tenant_id=caller.tenant_id, brand_id=held.brand_id),
                    contact_id=held.contact_id,
                    requesting_region=self._region,
                    agent_id=caller.subject,
                    queue=held.queue,
                    reservation_id=held.reservation_id,
                ),
                region=held.home_region,
            )
        except RpcError as error:
            log.warning(
                "region %s was not told that %s accepted contact %s: %s",
                held.home_region,
                caller.subject,
                held.contact_id,
                error,
            )

    async def decline(self, caller: Caller, offer: Offer) -> None:
        self._offered.pop(_offer_key(caller, offer), None)
        await self._answer(caller, offer.reservation_id, routing_pb2.OFFER_ANSWER_DECLINE)

    async def _answer(self, caller: Caller, reservation_id: str, answer: int, contact_id: str = "") -> Any:
        """Routing's answer; naming the contact makes a repeated accept or complete succeed."""
        try:
            return await self._routing.AnswerOffer(
                routing_pb2.AnswerOfferRequest(
                    tenant_id=caller.tenant_id,
                    agent_id=caller.subject,
                    reservation_id=reservation_id,
                    answer=answer,  # type: ignore[arg-type]
                    contact_id=contact_id,
                )
            )
        except RpcError as error:
            if error.code == grpc.StatusCode.FAILED_PRECONDITION:
                raise SocketError("conflict", f"the offer is gone: {error.message}") from None
            raise

    # -- the conversation ----------------------------------------------------------------------

    async def held(self, caller: Caller, contact_id: str) -> HeldContact:
        """The contact if this agent holds it; `forbidden` otherwise."""
        desk = await self._store.desk(caller.tenant_id, caller.subject)
        held = desk.get(contact_id)
        if held is None:
            raise SocketError("forbidden", f"you do not hold contact {contact_id!r}")
        _check_brand(caller, held.brand_id)
        return held

    async def conversation(self, caller: Caller, held: HeldContact) -> dict[str, Any]:
        # The conversation and the customer's timeline are asked at once (one write to NATS).
        reading = asyncio.ensure_future(self._contact_events(caller, held.contact_id, held.home_region))
        try:
            timeline = await self._timeline(caller, held)
        except BaseException:
            reading.cancel()
            with contextlib.suppress(BaseException):
                await reading
            raise
        events, display_name = await reading
        messages = [view for view in map(message_view, events) if view is not None]
        # Insights made before the agent took the contact; later ones are pushed as they come.
        insights = [agent_view(e) for e in events if e.WhichOneof("payload") == "ai_insight"]
        # A call's transcript so far, in the order it was said.
        transcript = [view for view in map(transcript_view, events) if view is not None]
        for view in messages:
            view.pop("contactId", None)
        facts = conversation_facts(events)
        conversation: dict[str, Any] = {
            "type": "conversation",
            "contactId": held.contact_id,
            # The queue it came from, so a reloaded page can say where the contact waited.
            "queue": held.queue,
            "channel": channels.name_of_kind(held.channel),
            "customerId": held.customer_id or facts.customer_id,
            "displayName": facts.display_name,
            "messages": messages,
            "insights": insights,
            "transcript": transcript,
            "timeline": timeline,
        }
        if held.home_region:
            conversation["homeRegion"] = held.home_region
            conversation["displayName"] = display_name
        return conversation

    async def _timeline(self, caller: Caller, held: HeldContact) -> list[dict[str, Any]]:
        """The customer's cross-channel history, newest first; empty when identity has none."""
        customer_id = held.customer_id
        if not customer_id or is_provisional(customer_id):
            return []  # no local profile (see provisional_customer_id): nothing to show
        try:
            reply = await self._identity.GetTimeline(
                identity_pb2.GetTimelineRequest(
                    tenant=common_pb2.TenantRef(tenant_id=caller.tenant_id, brand_id=held.brand_id),
                    customer_id=customer_id,
                    page_size=TIMELINE_ENTRIES,
                )
            )
        except RpcError as error:
            if error.code != grpc.StatusCode.NOT_FOUND:
                raise
            return []
        return [timeline_entry_view(entry) for entry in reply.entries]

    async def send(self, caller: Caller, contact_id: str, text: str, request_id: str | None) -> str:
        """Publish the agent's reply; the outbound consumer delivers it on the contact's channel."""
        held = await self.held(caller, contact_id)
        # A client re-sending the same request id after a reconnect publishes nothing twice.
        seed = f"agent/{caller.tenant_id}/{caller.subject}/{contact_id}/{request_id or uuid.uuid4().hex}"
        message_id = uuid.uuid5(uuid.NAMESPACE_URL, seed).hex
        if held.home_region:
            # The customer's channel legs are in the home region: it publishes and delivers.
            await self._home().SendHandedOverReply(
                gateway_pb2.SendHandedOverReplyRequest(
                    tenant=common_pb2.TenantRef(tenant_id=caller.tenant_id, brand_id=held.brand_id),
                    contact_id=contact_id,
                    requesting_region=self._region,
                    agent_id=caller.subject,
                    text=text,
                    message_id=message_id,
                ),
                region=held.home_region,
            )
            return message_id
        await self._events.publish(
            MessageSent(
                tenant_id=caller.tenant_id,
                brand_id=held.brand_id,
                contact_id=contact_id,
                region=self._region,
                event_id=message_id,
                message_id=message_id,
                channel=held.channel,
                text=text,
                sender=f"agent:{caller.subject}",
            )
        )
        return message_id

    async def suggest(self, caller: Caller, contact_id: str, text: str) -> dict[str, Any]:
        held = await self.held(caller, contact_id)
        # A handed-over contact's text is analysed where its conversation lives (its home region).
        reply = await self._ai.SuggestReplies(
            ai_pb2.SuggestRepliesRequest(
                tenant_id=caller.tenant_id, contact_id=contact_id, text=text, limit=3
            ),
            region=held.home_region or self._region,
        )
        return {
            "type": "suggestions",
            "contactId": contact_id,
            "suggestions": [
                {
                    "reply": s.reply,
                    "articleId": s.article_id,
                    "articleTitle": s.article_title,
                    "score": s.score,
                    "language": s.language,
                }
                for s in reply.suggestions
            ],
        }

    async def summarize(self, caller: Caller, contact_id: str) -> dict[str, Any]:
        held = await self.held(caller, contact_id)
        reply = await self._ai.SummarizeConversation(
            ai_pb2.SummarizeConversationRequest(tenant_id=caller.tenant_id, contact_id=contact_id),
            region=held.home_region or self._region,
        )
        return {
            "type": "summary",
            "contactId": contact_id,
            "summary": reply.summary,
            "messages": reply.messages,
            "sentimentTrend": reply.sentiment_trend,
            "escalationScore": reply.escalation_score,
        }

    # -- leaving the contact -------------------------------------------------------------------

    async def transfer(self, caller: Caller, contact_id: str, queue: str, reason: str) -> str:
        """Hand the contact to another queue; routing frees the agent's slot, re-queues the
        contact there and publishes ContactTransferred (so the gateway publishes nothing)."""
        held = await self.held(caller, contact_id)
        if queue == held.queue:
            raise SocketError("bad_request", f"queue: the contact is in {queue!r} already")
        try:
            reply = await self._routing.TransferContact(
                routing_pb2.TransferContactRequest(
                    tenant_id=caller.tenant_id,
                    contact_id=contact_id,
                    agent_id=caller.subject,
                    queue=queue,
                    reason=reason or "agent_transfer",
                )
            )
        except RpcError as error:
            if error.code == grpc.StatusCode.INVALID_ARGUMENT:
                raise SocketError("bad_request", error.message) from None
            if error.code == grpc.StatusCode.FAILED_PRECONDITION:
                # Routing no longer has it as this agent's (closed, or moved meanwhile).
                raise SocketError("conflict", error.message) from None
            raise
        await self._store.release(caller.tenant_id, caller.subject, contact_id)
        return str(reply.queue or queue)

    async def wrap_up(
        self, caller: Caller, contact_id: str, disposition: str, notes: str
    ) -> dict[str, Any] | None:
        """Record the outcome, free the slot, close the contact; the ticket ai made, if it could."""
        held = await self.held(caller, contact_id)
        if held.home_region:
            return await self._wrap_up_at_home(caller, held, disposition, notes)
        # Once per reservation. The hex form of the uuid is the id this event has always had on
        # the stream (`stable_event_id` writes the same uuid with dashes), so it stays.
        seed = f"workspace/{caller.tenant_id}/{held.contact_id}/wrapup/{held.reservation_id}"
        await self._events.publish(
            ContactWrappedUp(
                tenant_id=caller.tenant_id,
                brand_id=held.brand_id,
                contact_id=held.contact_id,
                region=self._region,
                event_id=uuid.uuid5(uuid.NAMESPACE_URL, seed).hex,
                agent_id=caller.subject,
                queue=held.queue,
                disposition=disposition,
                notes=notes,
            )
        )
        ticket: dict[str, Any] | None = None
        try:
            made = await self._ai.WrapUpConversation(
                ai_pb2.WrapUpConversationRequest(
                    tenant_id=caller.tenant_id, contact_id=contact_id, customer_ref=held.customer_id
                )
            )
            ticket = {
                "title": made.ticket.title,
                "category": made.ticket.category,
                "priority": made.ticket.priority,
                "summary": made.summary or made.ticket.summary,
            }
        except RpcError:
            ticket = None  # the wrap-up stands without a ticket; ai's failure is its own to report
        await self._complete(caller, held)
        # The customer's next message opens a new contact.
        await self._contacts.close_contact(caller.tenant_id, held.customer_id, contact_id)
        await self._store.release(caller.tenant_id, caller.subject, contact_id)
        return ticket

    async def _wrap_up_at_home(
        self, caller: Caller, held: HeldContact, disposition: str, notes: str
    ) -> dict[str, Any] | None:
        """A handed-over contact: the outcome is recorded and the contact closed in its home
        region (where the conversation is); routing here frees the agent's slot. No ticket:
        the conversation the AI would summarise is not in this region."""
        await self._home().WrapUpHandedOverContact(
            gateway_pb2.WrapUpHandedOverContactRequest(
                tenant=common_pb2.TenantRef(tenant_id=caller.tenant_id, brand_id=held.brand_id),
                contact_id=held.contact_id,
                requesting_region=self._region,
                agent_id=caller.subject,
                queue=held.queue,
                disposition=disposition,
                notes=notes,
                reservation_id=held.reservation_id,
            ),
            region=held.home_region,
        )
        await self._complete(caller, held)
        await self._store.release(caller.tenant_id, caller.subject, held.contact_id)
        return None

    async def _complete(self, caller: Caller, held: HeldContact) -> None:
        """Routing closes the contact and frees the slot (announcing ContactClosed); tried again
        while routing or its bucket is unavailable: a complete is idempotent."""
        # Refused: routing no longer has it as this agent's (a sweeper freed the slot, or a
        # transfer moved it): the rest of the wrap-up still has to be done.
        with contextlib.suppress(SocketError):
            await until_settled(
                f"completing {held.contact_id}",
                lambda: self._answer(
                    caller, held.reservation_id, routing_pb2.OFFER_ANSWER_COMPLETE, held.contact_id
                ),
            )


def _offer_key(caller: Caller, offer: Offer) -> tuple[str, str, str]:
    return caller.tenant_id, offer.contact_id, offer.reservation_id


def _settled(facts: ContactFacts) -> bool:
    """Whether later events cannot change what an accept takes from the facts: each is the first
    non-empty value in stream order, and a read after this one only adds later events."""
    return bool(facts.channel and facts.customer_id and facts.brand_id)


def _check_brand(caller: Caller, brand_id: str) -> None:
    """A brand-scoped token (`ccctl token --brand`) reaches only its brands' contacts."""
    if brand_id and not caller.may_see_brand(brand_id):
        raise SocketError(
            "forbidden", f"your token is limited to brand(s) {sorted(caller.brands)}, not {brand_id!r}"
        )
