"""Capacity rules and the reservation ledger."""

import itertools

import pytest

from ccmesh.channels import Channel
from routing.domain.agents import (
    AcdInputError,
    AgentLoad,
    AgentProfile,
    AgentState,
    CapacityGroup,
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
    profile = AgentProfile("a1", capacity={Channel.VOICE: 1, Channel.WEBCHAT: 3}, **kw)  # type: ignore[arg-type]
    return AgentLedger(profile, AgentState.AVAILABLE)


def test_chat_capacity_three_gets_at_most_three_chats() -> None:
    ledger = chat_agent()
    for n in range(3):
        ledger = reserve(ledger, offer(n, Channel.WEBCHAT))
    with pytest.raises(ReservationError, match="chat capacity 3 reached"):
        reserve(ledger, offer(3, Channel.WEBCHAT))
    assert ledger.load().count(Channel.WEBCHAT) == 3


def test_no_voice_while_chatting_and_no_chat_while_on_voice() -> None:
    on_voice = reserve(chat_agent(), offer(1, Channel.VOICE))
    with pytest.raises(ReservationError, match="on a voice contact"):
        reserve(on_voice, offer(2, Channel.WEBCHAT))
    chatting = reserve(chat_agent(), offer(1, Channel.WEBCHAT))
    with pytest.raises(ReservationError, match="voice needs a free agent"):
        reserve(chatting, offer(2, Channel.VOICE))


def test_voice_may_allow_other_work_when_configured() -> None:
    on_voice = reserve(chat_agent(voice_blocks_other_work=False), offer(1, Channel.VOICE))
    assert reserve(on_voice, offer(2, Channel.WEBCHAT)).load().total() == 2


def test_offline_or_break_agents_get_nothing() -> None:
    for state in (AgentState.OFFLINE, AgentState.BREAK, AgentState.AFTER_CONTACT_WORK):
        ledger = set_state(chat_agent(), state, 1.0)
        with pytest.raises(ReservationError, match=state.value):
            reserve(ledger, offer(1, Channel.WEBCHAT))


def test_accept_then_release_frees_the_slot_and_idles_the_agent() -> None:
    ledger = reserve(chat_agent(), offer(1, Channel.WEBCHAT))
    ledger = accept(ledger, "r1")
    assert ledger.state is AgentState.BUSY
    assert ledger.find("r1").state is ReservationState.ACCEPTED
    with pytest.raises(ReservationError, match="accepted to accepted"):
        accept(ledger, "r1")
    ledger = release(ledger, "r1", 50.0)
    assert ledger.held == () and ledger.state is AgentState.AVAILABLE and ledger.idle_since == 50.0


def test_busy_agent_with_spare_chat_capacity_still_gets_chats() -> None:
    ledger = accept(reserve(chat_agent(), offer(1, Channel.WEBCHAT)), "r1")
    assert reserve(ledger, offer(2, Channel.WEBCHAT)).load().count(Channel.WEBCHAT) == 2


def test_expired_lists_only_open_offers_past_their_deadline() -> None:
    ledger = reserve(reserve(chat_agent(), offer(1, Channel.WEBCHAT, 10.0)), offer(2, Channel.WEBCHAT, 30.0))
    assert [h.contact_id for h in expired(ledger, 20.0)] == ["c1"]
    assert expired(accept(ledger, "r1"), 20.0) == []


def test_going_offline_drops_open_offers_but_keeps_accepted_contacts() -> None:
    ledger = accept(reserve(chat_agent(), offer(1, Channel.WEBCHAT)), "r1")
    ledger = reserve(ledger, offer(2, Channel.WEBCHAT))
    offline = set_state(ledger, AgentState.OFFLINE, 5.0)
    assert [h.contact_id for h in offline.held] == ["c1"]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"capacity": {Channel.WEBCHAT: -1}}, "capacity.webchat"),
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
            capacity={Channel.VOICE: voice, Channel.WEBCHAT: chat, Channel.SMS: 2},
            voice_blocks_other_work=blocks,
        )
        for state in AgentState:
            for load in itertools.product(range(2), range(4), range(3)):
                active = dict(zip((Channel.VOICE, Channel.WEBCHAT, Channel.SMS), load, strict=True))
                agent_load = AgentLoad({c: n for c, n in active.items() if n})
                expected = tuple(
                    c for c in profile.capacity if capacity_refusal(profile, state, agent_load, c) is None
                )
                assert channels_with_room(profile, state, agent_load) == expected, (profile, state, load)


def messaging_agent(*groups: CapacityGroup) -> AgentLedger:
    capacity = {Channel.SMS: 2, Channel.WHATSAPP: 2, Channel.WEBCHAT: 1}
    return AgentLedger(AgentProfile("alice", capacity=capacity, groups=groups), AgentState.AVAILABLE)


def test_sms_and_whatsapp_keep_their_own_limits() -> None:
    ledger = messaging_agent()
    channels = [Channel.SMS, Channel.WHATSAPP, Channel.SMS, Channel.WHATSAPP]
    for n, channel in enumerate(channels):
        ledger = reserve(ledger, offer(n, channel))
    assert (ledger.load().count(Channel.SMS), ledger.load().count(Channel.WHATSAPP)) == (2, 2)
    for channel in (Channel.SMS, Channel.WHATSAPP):
        with pytest.raises(ReservationError, match=f"{channel.value} capacity 2 reached"):
            reserve(ledger, offer(9, channel))
    assert reserve(ledger, offer(9, Channel.WEBCHAT)).load().total() == 5


def test_a_channel_without_a_limit_takes_nothing() -> None:
    with pytest.raises(ReservationError, match="email capacity 0 reached"):
        reserve(messaging_agent(), offer(1, Channel.EMAIL))


def test_a_capacity_group_caps_the_sum_of_its_channels() -> None:
    ledger = messaging_agent(CapacityGroup("messaging", frozenset({Channel.SMS, Channel.WHATSAPP}), 3))
    for n, channel in enumerate([Channel.SMS, Channel.WHATSAPP, Channel.SMS]):
        ledger = reserve(ledger, offer(n, channel))
    with pytest.raises(ReservationError, match="messaging capacity 3 reached"):
        reserve(ledger, offer(9, Channel.WHATSAPP))
    assert channels_with_room(ledger.profile, ledger.state, ledger.load()) == (Channel.WEBCHAT,)
    assert reserve(ledger, offer(9, Channel.WEBCHAT)).load().total() == 4


@pytest.mark.parametrize(
    ("group", "field"),
    [
        (CapacityGroup("", frozenset({Channel.SMS}), 1), "capacity_groups[0].name"),
        (CapacityGroup("m", frozenset(), 1), "capacity_groups[0].channels"),
        (CapacityGroup("m", frozenset({Channel.SMS}), -1), "capacity_groups[0].capacity"),
    ],
)
def test_bad_capacity_groups_name_the_field(group: CapacityGroup, field: str) -> None:
    with pytest.raises(AcdInputError) as caught:
        AgentProfile("a1", groups=(group,))
    assert caught.value.field == field


def test_channels_with_room_agrees_with_capacity_refusal_under_groups() -> None:
    for limit, blocks in itertools.product((0, 1, 2, 3), (True, False)):
        group = CapacityGroup("messaging", frozenset({Channel.SMS, Channel.WHATSAPP}), limit)
        profile = AgentProfile(
            "a1",
            capacity={Channel.VOICE: 1, Channel.SMS: 2, Channel.WHATSAPP: 2, Channel.WEBCHAT: 1},
            groups=(group,),
            voice_blocks_other_work=blocks,
        )
        for state in (AgentState.AVAILABLE, AgentState.BUSY):
            for load in itertools.product(range(2), range(3), range(3), range(2)):
                keys = (Channel.VOICE, Channel.SMS, Channel.WHATSAPP, Channel.WEBCHAT)
                agent_load = AgentLoad({c: n for c, n in zip(keys, load, strict=True) if n})
                expected = tuple(
                    c for c in profile.capacity if capacity_refusal(profile, state, agent_load, c) is None
                )
                assert channels_with_room(profile, state, agent_load) == expected, (limit, state, load)
