"""Closed-queue actions: queue (here or in another region), message and callback."""

import datetime as dt

import pytest

from routing.domain.agents import AcdInputError
from routing.domain.closed_actions import DEFAULT_TEXTS, hand_over_rule, when_closed
from routing.domain.hours import BusinessHours
from routing.domain.queueing import QueueSpec

AT = dt.datetime(2026, 12, 5, 12, 0, tzinfo=dt.UTC)  # a Saturday


def queue(**kw: object) -> QueueSpec:
    hours = BusinessHours.parse("UTC", {"mon": ["09:00-17:00"]}, **kw)  # type: ignore[arg-type]
    return QueueSpec("acme", "support", hours=hours)


def test_an_open_queue_has_no_closed_outcome() -> None:
    assert when_closed(queue(), dt.datetime(2026, 12, 7, 10, 0, tzinfo=dt.UTC)) is None
    assert when_closed(QueueSpec("acme", "always"), AT) is None


def test_message_tells_the_customer_the_configured_text_or_the_default() -> None:
    told = when_closed(queue(closed_action="message", closed_message="  Back on Monday!  "), AT)
    assert told is not None and (told.action, told.queue, told.text) == ("message", "", "Back on Monday!")
    default = when_closed(queue(closed_action="message"), AT)
    assert default is not None and default.text == DEFAULT_TEXTS["message"]


def test_callback_keeps_the_contact_in_its_own_queue_and_tells_the_customer() -> None:
    outcome = when_closed(queue(closed_action="callback"), AT)
    assert outcome is not None
    assert (outcome.action, outcome.queue, outcome.hands_over) == ("callback", "support", False)
    assert "call you back" in outcome.text


def test_queue_action_moves_here_or_hands_over_to_another_region() -> None:
    local = when_closed(queue(closed_action="queue", closed_target_queue="night"), AT, region="eu")
    assert local is not None and (local.queue, local.hands_over) == ("night", False)
    same = when_closed(
        queue(closed_action="queue", closed_target_queue="night", closed_target_region="eu"), AT, region="eu"
    )
    assert same is not None and not same.hands_over
    remote = when_closed(
        queue(closed_action="queue", closed_target_queue="support", closed_target_region="us"),
        AT,
        region="eu",
    )
    assert remote is not None and remote.hands_over
    rule = hand_over_rule(queue(), remote)
    assert (rule.target_region, rule.target_queue, rule.action) == ("us", "support", "move")


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"closed_action": "message", "closed_target_region": "us"}, "hours.closed_target_region"),
        ({"closed_action": "message", "closed_message": "x" * 1001}, "hours.closed_message"),
        ({"closed_action": "voicemail"}, "hours.closed_action"),
    ],
)
def test_bad_closed_actions_name_the_field(kw: dict, field: str) -> None:
    with pytest.raises(AcdInputError) as error:
        queue(**kw)
    assert error.value.field == field
