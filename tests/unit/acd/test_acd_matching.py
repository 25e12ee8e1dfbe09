"""Queue order, strategies, bullseye rings, preferred agent and decision records."""

import pytest

from ccmesh.channels import Channel
from routing.domain.agents import AcdInputError, AgentLoad, AgentProfile, AgentState
from routing.domain.matching import AgentView, choose_agent
from routing.domain.queueing import BullseyeRing, QueueSpec, WaitingContact, queue_order


def agent(agent_id: str, skill: int = 3, idle_since: float = 0.0, chats: int = 0, **kw: object) -> AgentView:
    profile = AgentProfile(
        agent_id,
        skills={"billing": skill},
        languages=frozenset({"en"}),
        capacity={Channel.VOICE: 1, Channel.WEBCHAT: 3},
        **kw,  # type: ignore[arg-type]
    )
    return AgentView(profile, AgentState.AVAILABLE, AgentLoad({Channel.WEBCHAT: chats}), idle_since)


def contact(
    cid: str = "c1",
    enqueued_at: float = 0.0,
    priority: int = 50,
    language: str = "en",
    preferred_agent: str = "",
) -> WaitingContact:
    return WaitingContact(
        cid,
        "billing",
        Channel.WEBCHAT,
        priority,
        enqueued_at,
        required_skills=frozenset({"billing"}),
        language=language,
        preferred_agent=preferred_agent,
    )


QUEUE = QueueSpec("acme", "billing")


def test_fifo_within_a_priority_and_higher_priority_first() -> None:
    contacts = [contact("late", 5.0), contact("early", 1.0), contact("urgent", 9.0, priority=90)]
    assert [c.contact_id for c in queue_order(contacts, QUEUE, 10.0)] == ["urgent", "early", "late"]


def test_aging_lets_a_long_waiting_low_priority_contact_overtake() -> None:
    aging = QueueSpec("acme", "billing", aging_per_minute=10.0)
    old = contact("old", 0.0, priority=10)
    new = contact("new", 590.0, priority=50)
    assert [c.contact_id for c in queue_order([new, old], aging, 600.0)] == ["old", "new"]
    assert [c.contact_id for c in queue_order([new, old], QUEUE, 600.0)] == ["new", "old"]


def test_strategies_pick_different_agents_and_record_why() -> None:
    agents = [
        agent("idle", skill=2, idle_since=0.0),
        agent("expert", skill=5, idle_since=50.0, chats=1),
        agent("free", skill=3, idle_since=40.0),
    ]
    picks = {
        s: choose_agent(contact(), QueueSpec("acme", "billing", strategy=s), agents, 100.0)
        for s in ("longest_idle", "most_skilled", "least_occupied")
    }
    assert picks["longest_idle"].agent_id == "idle"
    assert picks["most_skilled"].agent_id == "expert"
    assert picks["least_occupied"].agent_id in {"idle", "free"}
    decision = picks["most_skilled"]
    assert decision.rule == "most_skilled"
    assert {c.agent_id: c.score for c in decision.candidates}["expert"] == 5.0


def test_required_language_and_skill_are_hard_filters() -> None:
    french = contact(language="fr")
    decision = choose_agent(french, QUEUE, [agent("a")], 0.0)
    assert not decision.matched and decision.rule == "no_eligible_agent"
    assert decision.candidates[0].rejected == "does not speak fr"


def test_bullseye_widens_at_the_configured_times() -> None:
    queue = QueueSpec("acme", "billing", rings=(BullseyeRing(0, 5), BullseyeRing(30, 3), BullseyeRing(60, 1)))
    agents = [agent("junior", skill=1), agent("mid", skill=3)]
    at = {t: choose_agent(contact(), queue, agents, t) for t in (0.0, 29.9, 30.0, 59.0, 60.0)}
    assert [(at[t].ring, at[t].agent_id) for t in at] == [
        (0, ""),
        (0, ""),
        (1, "mid"),
        (1, "mid"),
        (2, "mid"),
    ]
    assert {c.agent_id for c in at[60.0].candidates if not c.rejected} == {"junior", "mid"}


def test_preferred_agent_wins_then_times_out() -> None:
    queue = QueueSpec("acme", "billing", preferred_agent_timeout_seconds=30)
    busy_favourite = AgentView(agent("fav").profile, AgentState.BREAK, AgentLoad(), 0.0)
    others = [agent("other")]
    assert choose_agent(
        contact(preferred_agent="fav"), queue, [*others, agent("fav", idle_since=9)], 10
    ).rule == ("preferred_agent")
    waiting = choose_agent(contact(preferred_agent="fav"), queue, [*others, busy_favourite], 10.0)
    assert (waiting.agent_id, waiting.rule) == ("", "waiting_for_preferred_agent")
    later = choose_agent(contact(preferred_agent="fav"), queue, [*others, busy_favourite], 31.0)
    assert later.agent_id == "other"


def test_isolated_and_shared_brand_pools() -> None:
    other_brand = agent("b2", brands=frozenset({"budget"}))
    isolated = QueueSpec("acme", "billing", brand="premium")
    shared = QueueSpec("acme", "billing", brand="premium", shared_brands=frozenset({"budget"}))
    assert not choose_agent(contact(), isolated, [other_brand], 0.0).matched
    assert choose_agent(contact(), shared, [other_brand], 0.0).agent_id == "b2"


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: QueueSpec("acme", "q", strategy="random"), "strategy"),
        (lambda: QueueSpec("acme", "q", rings=(BullseyeRing(5, 1),)), "rings"),
        (lambda: contact(priority=0), "priority"),
        (lambda: contact(priority=100), "priority"),
    ],
)
def test_bad_queue_input_names_the_field(build: object, field: str) -> None:
    with pytest.raises(AcdInputError) as caught:
        build()  # type: ignore[operator]
    assert caught.value.field == field
