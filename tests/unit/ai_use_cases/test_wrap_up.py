"""`WrapUpConversation` over fakes: the conversation becomes a summary and a ticket, the ticket is
announced once per wrap-up, and the conversation is forgotten; an unknown conversation is an
error that announces nothing."""

from __future__ import annotations

import asyncio

import pytest
from fakes.ai_fakes import TENANT, FakeConversations, FixedPipeline, InlineInference, OnePipeline
from fakes.published import FakePublisher

from ai.domain.events import AiEvent, TicketDrafted
from ai.service_layer.analysis import Analyzer, ConversationNotFoundError
from ai.service_layer.wrap_up import WrapUpConversation


def use_case() -> tuple[Analyzer, WrapUpConversation, FakeConversations, FakePublisher[AiEvent]]:
    store, events = FakeConversations(), FakePublisher[AiEvent]()
    analyzer = Analyzer(OnePipeline(FixedPipeline()), store, InlineInference())
    return analyzer, WrapUpConversation(analyzer, events), store, events


async def test_a_wrap_up_announces_the_ticket_it_returns_and_forgets_the_conversation() -> None:
    analyzer, wrap_up, store, events = use_case()
    await analyzer.analyze(TENANT, "", "My blender broke, I want a refund", contact_id="c1", message_id="m1")
    await analyzer.record_reply(TENANT, "c1", "r1", "Sorry, I will start the refund.", "agent")

    summary, ticket = await wrap_up(TENANT, "c1", "cust-7")

    (drafted,) = events.published
    assert isinstance(drafted, TicketDrafted)
    assert (drafted.tenant_id, drafted.contact_id, drafted.ticket) == (TENANT, "c1", ticket)
    assert (ticket.category, ticket.customer_ref) == ("refund", "cust-7")
    assert summary
    assert (TENANT, "c1") not in store.conversations


async def test_two_wrap_ups_of_one_contact_draft_two_distinct_tickets() -> None:
    analyzer, wrap_up, _, events = use_case()
    for _ in range(2):
        await analyzer.analyze(TENANT, "", "Refund please", contact_id="c1", message_id="m1")
        await wrap_up(TENANT, "c1", "")
    first, second = events.published
    assert isinstance(first, TicketDrafted) and isinstance(second, TicketDrafted)
    assert first.draft_id != second.draft_id


async def test_an_unknown_conversation_is_refused_and_announces_nothing() -> None:
    _, wrap_up, _, events = use_case()
    with pytest.raises(ConversationNotFoundError, match="no conversation 'c9'"):
        await wrap_up(TENANT, "c9", "")
    assert events.published == []


async def test_a_wrap_up_waits_for_the_conversation_its_consumer_is_still_analysing() -> None:
    analyzer, _, _, events = use_case()
    wrap_up = WrapUpConversation(analyzer, events, catch_up_seconds=5.0, poll_seconds=0.01)

    async def analysed_later() -> None:
        await asyncio.sleep(0.05)
        await analyzer.analyze(TENANT, "", "Refund please", contact_id="c1", message_id="m1")

    later = asyncio.create_task(analysed_later())
    summary, ticket = await wrap_up(TENANT, "c1", "")
    await later
    assert summary and ticket.title
    assert len(events.published) == 1


async def test_a_conversation_that_never_comes_is_refused_once_the_wait_is_over() -> None:
    analyzer, _, _, events = use_case()
    wrap_up = WrapUpConversation(analyzer, events, catch_up_seconds=0.05, poll_seconds=0.01)
    with pytest.raises(ConversationNotFoundError, match="no conversation 'c9'"):
        await wrap_up(TENANT, "c9", "")
    assert events.published == []


class LateReplies:
    """The reply consumer a moment behind: the agent's reply is added when the barrier is asked."""

    def __init__(self, analyzer: Analyzer, *, caught_up: bool = True, fails: bool = False) -> None:
        self._analyzer = analyzer
        self._caught_up = caught_up
        self._fails = fails
        self.asked: list[tuple[str, str, float]] = []

    async def caught_up(self, tenant_id: str, contact_id: str, within_seconds: float) -> bool:
        self.asked.append((tenant_id, contact_id, within_seconds))
        if self._fails:
            raise ConnectionError("stream unavailable")
        if self._caught_up:
            await self._analyzer.record_reply(
                tenant_id, contact_id, "r1", "Your refund is on its way.", "agent"
            )
        return self._caught_up


async def test_a_wrap_up_waits_until_the_last_reply_is_in_the_conversation() -> None:
    analyzer, _, _, events = use_case()
    await analyzer.analyze(TENANT, "", "My blender broke, I want a refund", contact_id="c1", message_id="m1")
    sync = LateReplies(analyzer)
    wrap_up = WrapUpConversation(analyzer, events, catch_up_seconds=5.0, sync=sync)
    summary, ticket = await wrap_up(TENANT, "c1", "")
    assert sync.asked == [(TENANT, "c1", 5.0)]
    assert "Your refund is on its way" in summary and "Your refund is on its way" in ticket.summary


@pytest.mark.parametrize("sync_kind", ["behind", "failing"])
async def test_a_barrier_that_times_out_or_fails_still_wraps_up_what_is_there(sync_kind: str) -> None:
    analyzer, _, _, events = use_case()
    await analyzer.analyze(TENANT, "", "My blender broke, I want a refund", contact_id="c1", message_id="m1")
    sync = LateReplies(analyzer, caught_up=False, fails=sync_kind == "failing")
    wrap_up = WrapUpConversation(analyzer, events, catch_up_seconds=0.5, sync=sync)
    summary, ticket = await wrap_up(TENANT, "c1", "")
    assert summary and ticket.category == "refund"
    assert "refund is on its way" not in summary
    assert len(sync.asked) == 1 and len(events.published) == 1
