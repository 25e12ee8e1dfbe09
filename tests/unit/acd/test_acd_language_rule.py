"""Language required or preferred per queue, widening with the wait like bullseye rings."""

import random

import pytest

from ccmesh.channels import Channel
from routing.domain.agent_index import AgentIndex
from routing.domain.agents import AcdInputError, AgentLoad, AgentProfile, AgentState
from routing.domain.language_rule import STRICT, LanguageMode, language_rule
from routing.domain.matching import AgentView, choose_agent
from routing.domain.queueing import QueueSpec, WaitingContact

WIDENING = language_rule("required", [(60, "preferred"), (180, "any")])


def agent(agent_id: str, languages: set[str], idle_since: float, brands: set[str] | None = None) -> AgentView:
    profile = AgentProfile(
        agent_id,
        languages=frozenset(languages),
        brands=frozenset(brands or ()),
        capacity={Channel.WEBCHAT: 2},
    )
    return AgentView(profile, AgentState.AVAILABLE, AgentLoad(), idle_since)


def contact(waited: float, language: str = "es", now: float = 1000.0) -> WaitingContact:
    return WaitingContact("c1", "q", Channel.WEBCHAT, 50, now - waited, language=language)


def both(contact_: WaitingContact, queue: QueueSpec, agents: list[AgentView], now: float = 1000.0):
    index = AgentIndex()
    for a in agents:
        index.put(a)
    return choose_agent(contact_, queue, agents, now), index.longest_idle(contact_, queue, now)


def test_steps_widen_with_the_wait() -> None:
    assert [WIDENING.mode_at(w) for w in (0, 59, 60, 179, 180, 999)] == [
        LanguageMode.REQUIRED,
        LanguageMode.REQUIRED,
        LanguageMode.PREFERRED,
        LanguageMode.PREFERRED,
        LanguageMode.ANY,
        LanguageMode.ANY,
    ]
    assert WIDENING.step_at(100) == 1
    assert language_rule("") is STRICT and STRICT.is_strict


@pytest.mark.parametrize(
    ("mode", "widening", "field"),
    [
        ("sometimes", [], "language"),
        ("preferred", [(30, "required")], "language_widening[0].mode"),
        ("required", [(60, "preferred"), (30, "any")], "language_widening[1].after_seconds"),
        ("required", [(0, "any")], "language_widening[0].after_seconds"),
        ("required", [(10, "whenever")], "language_widening[0].mode"),
    ],
)
def test_bad_rules_are_refused_naming_the_field(mode: str, widening: list, field: str) -> None:
    with pytest.raises(AcdInputError) as error:
        language_rule(mode, widening)
    assert error.value.field == field


def test_required_waits_for_a_speaker() -> None:
    queue = QueueSpec("acme", "q", language=WIDENING)
    agents = [agent("de1", {"de"}, 0.0)]
    for decision in both(contact(10), queue, agents):
        assert not decision.matched
        assert decision.language_rule == "es required (language ring 0)"


def test_preferred_takes_a_speaker_over_a_longer_idle_agent() -> None:
    queue = QueueSpec("acme", "q", language=WIDENING)
    agents = [agent("de1", {"de"}, 0.0), agent("es1", {"es"}, 500.0)]
    for decision in both(contact(90), queue, agents):
        assert decision.agent_id == "es1"
        assert decision.language_rule == "es preferred (language ring 1)"


def test_preferred_falls_back_to_another_agent_when_no_speaker_is_free() -> None:
    queue = QueueSpec("acme", "q", language=WIDENING)
    agents = [agent("de1", {"de"}, 10.0), agent("fr1", {"fr"}, 0.0)]
    scanned, indexed = both(contact(90), queue, agents)
    assert scanned.agent_id == indexed.agent_id == "fr1"  # longest idle among the non-speakers
    assert "fr1" not in [c.agent_id for c in indexed.candidates if c.rejected]


def test_any_ignores_the_language() -> None:
    queue = QueueSpec("acme", "q", language=WIDENING)
    agents = [agent("de1", {"de"}, 0.0), agent("es1", {"es"}, 500.0)]
    for decision in both(contact(200), queue, agents):
        assert decision.agent_id == "de1"
        assert decision.language_rule == "es any (language ring 2)"


def test_a_contact_without_language_matches_anyone_and_shows_no_rule() -> None:
    queue = QueueSpec("acme", "q", language=WIDENING)
    for decision in both(contact(0, language=""), queue, [agent("de1", {"de"}, 0.0)]):
        assert decision.agent_id == "de1" and decision.language_rule == ""


def test_index_agrees_with_the_full_scan_under_a_widening_rule() -> None:
    rng = random.Random(3)
    agents = [
        agent(f"a{n}", set(rng.sample(["en", "de", "es", "ja"], rng.randint(1, 2))), rng.random() * 900)
        for n in range(150)
    ]
    queue = QueueSpec("acme", "q", language=WIDENING)
    for _ in range(150):
        c = contact(rng.choice([10, 90, 200]), language=rng.choice(["en", "de", "es", "ja", "ar"]))
        scanned, indexed = both(c, queue, agents)
        assert indexed.agent_id == scanned.agent_id, c
