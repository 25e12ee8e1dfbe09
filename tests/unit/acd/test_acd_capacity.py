"""Capacity rules and the reservation ledger."""

import itertools

import pytest

from routing.domain.agents import (
    AcdInputError,
    AgentLoad,
    AgentProfile,
    AgentState,
    Channel,
    capacity_refusal,
    channels_with_room,
)
from routing.domain.reservations import (
    AgentLedger,
    Held,
    ReservationError,
    ReservationState,
    accept,
    expired,
    release,
    reserve,
    set_state,
)


def offer(n: int, channel: Channel, deadline: float = 100.0) -> Held:
    return Held(f"r{n}", f"c{n}", channel, ReservationState.OFFERED, deadline)


def chat_agent(**kw: object) -> AgentLedger:
    profile = AgentProfile("a1", capacity={Channel.VOICE: 1, Channel.CHAT: 3}, **kw)  # type: ignore[arg-type]
    return AgentLedger(profile, AgentState.AVAILABLE)


def test_chat_capacity_three_gets_at_most_three_chats() -> None:
    ledger = chat_agent()
    for n in range(3):
        ledger = reserve(ledger, offer(n, Channel.CHAT))
    with pytest.raises(ReservationError, match="chat capacity 3 reached"):
        reserve(ledger, offer(3, Channel.CHAT))
    assert ledger.load().count(Channel.CHAT) == 3


def test_no_voice_while_chatting_and_no_chat_while_on_voice() -> None:
    on_voice = reserve(chat_agent(), offer(1, Channel.VOICE))
    with pytest.raises(ReservationError, match="on a voice contact"):
        reserve(on_voice, offer(2, Channel.CHAT))
    chatting = reserve(chat_agent(), offer(1, Channel.CHAT))
    with pytest.raises(ReservationError, match="voice needs a free agent"):
        reserve(chatting, offer(2, Channel.VOICE))


def test_voice_may_allow_other_work_when_configured() -> None:
    on_voice = reserve(chat_agent(voice_blocks_other_work=False), offer(1, Channel.VOICE))
    assert reserve(on_voice, offer(2, Channel.CHAT)).load().total() == 2


def test_offline_or_break_agents_get_nothing() -> None:
    for state in (AgentState.OFFLINE, AgentState.BREAK, AgentState.AFTER_CONTACT_WORK):
        ledger = set_state(chat_agent(), state, 1.0)
        with pytest.raises(ReservationError, match=state.value):
            reserve(ledger, offer(1, Channel.CHAT))


def test_accept_then_release_frees_the_slot_and_idles_the_agent() -> None:
    ledger = reserve(chat_agent(), offer(1, Channel.CHAT))
    ledger = accept(ledger, "r1")
    assert ledger.state is AgentState.BUSY
    assert ledger.find("r1").state is ReservationState.ACCEPTED
    with pytest.raises(ReservationError, match="accepted to accepted"):
        accept(ledger, "r1")
    ledger = release(ledger, "r1", 50.0)
    assert ledger.held == () and ledger.state is AgentState.AVAILABLE and ledger.idle_since == 50.0


def test_busy_agent_with_spare_chat_capacity_still_gets_chats() -> None:
    ledger = accept(reserve(chat_agent(), offer(1, Channel.CHAT)), "r1")
    assert reserve(ledger, offer(2, Channel.CHAT)).load().count(Channel.CHAT) == 2


def test_expired_lists_only_open_offers_past_their_deadline() -> None:
    ledger = reserve(reserve(chat_agent(), offer(1, Channel.CHAT, 10.0)), offer(2, Channel.CHAT, 30.0))
    assert [h.contact_id for h in expired(ledger, 20.0)] == ["c1"]
    assert expired(accept(ledger, "r1"), 20.0) == []


def test_going_offline_drops_open_offers_but_keeps_accepted_contacts() -> None:
    ledger = accept(reserve(chat_agent(), offer(1, Channel.CHAT)), "r1")
    ledger = reserve(ledger, offer(2, Channel.CHAT))
    offline = set_state(ledger, AgentState.OFFLINE, 5.0)
    assert [h.contact_id for h in offline.held] == ["c1"]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"capacity": {Channel.CHAT: -1}}, "capacity.chat"),
        ({"capacity": {Channel.VOICE: 2}}, "capacity.voice"),
        ({"skills": {"billing": 6}}, "skills.billing"),
    ],
)
def test_bad_agent_profiles_name_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(AcdInputError) as caught:
        AgentProfile("a1", **kwargs)  # type: ignore[arg-type]
    assert caught.value.field == field


def test_channels_with_room_agrees_with_capacity_refusal() -> None:
    # The index's one-pass check must never disagree with the rule that explains refusals.
    for voice, chat, blocks in itertools.product((0, 1), (0, 1, 3), (True, False)):
        profile = AgentProfile(
            "a1",
            capacity={Channel.VOICE: voice, Channel.CHAT: chat, Channel.MESSAGING: 2},
            voice_blocks_other_work=blocks,
        )
        for state in AgentState:
            for load in itertools.product(range(2), range(4), range(3)):
                active = dict(zip((Channel.VOICE, Channel.CHAT, Channel.MESSAGING), load, strict=True))
                agent_load = AgentLoad({c: n for c, n in active.items() if n})
                expected = tuple(
                    c for c in profile.capacity if capacity_refusal(profile, state, agent_load, c) is None
                )
                assert channels_with_room(profile, state, agent_load) == expected, (profile, state, load)
