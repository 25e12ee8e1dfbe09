"""What people see: customer names, AI insights in words, the supervisor's board."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from ccmesh.insights import describe, intent_label, sentiment_label
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from contactcenter.routing.v1 import routing_pb2
from gateway.domain.display_name import display_name, masked_address
from gateway.domain.socket_views import agent_view, conversation_facts
from gateway.service_layer.queue_board import QueueBoard, StateClock, seconds_since_local_midnight

PHONE, EMAIL, VISITOR = (
    common_pb2.IDENTIFIER_KIND_PHONE,
    common_pb2.IDENTIFIER_KIND_EMAIL,
    common_pb2.IDENTIFIER_KIND_WEBCHAT_VISITOR_ID,
)


@pytest.mark.parametrize(
    ("kind", "value", "shown"),
    [
        (PHONE, "+44 20 7946 0958", "+44 \u2022\u2022\u2022 0958"),
        (PHONE, "12", "\u2022\u2022\u2022"),
        (EMAIL, "jane.doe@example.org", "j\u2022\u2022\u2022@example.org"),
        (VISITOR, "v-0123456789abcdef", "Web visitor cdef"),
        (PHONE, "", ""),
    ],
)
def test_an_address_is_masked(kind: int, value: str, shown: str) -> None:
    assert masked_address(kind, value) == shown


def test_the_channels_name_wins_over_the_masked_address() -> None:
    assert display_name("  María   López ", PHONE, "+447700900222") == "María López"
    assert display_name("", PHONE, "+447700900222") == "+44 \u2022\u2022\u2022 0222"


def test_conversation_facts_name_the_customer_from_the_events() -> None:
    created = events_pb2.Event(contact_id="k")
    created.contact_created.customer_id = "c1"
    getattr(created.contact_created, "from").CopyFrom(
        common_pb2.Identifier(kind=EMAIL, value="jane@example.org")
    )
    received = events_pb2.Event(contact_id="k")
    received.message_received.text = "hi"
    assert conversation_facts([created, received]).display_name == "j\u2022\u2022\u2022@example.org"
    received.message_received.sender_name = "Jane Doe"
    assert conversation_facts([created, received]).display_name == "Jane Doe"


def test_an_insight_is_told_for_people_with_its_channel() -> None:
    event = events_pb2.Event(contact_id="k")
    insight = event.ai_insight
    insight.intent, insight.intent_score, insight.sentiment = "out_of_scope", 0.1, -0.6
    insight.pipeline, insight.message_id, insight.language = "default", "ab" * 16, "en"
    insight.language_reliable = True
    insight.channel = common_pb2.CHANNEL_KIND_VOICE
    view = agent_view(event)
    assert view is not None
    assert (view["channel"], view["intentLabel"], view["sentimentLabel"]) == ("voice", "unknown", "negative")
    assert view["summary"] == "Intent: unknown \u00b7 sentiment: negative \u00b7 language: en"
    insight.intent, insight.intent_score = "order_status", 0.82
    assert describe(insight).startswith("Intent: order status (82%)")
    # A detection too unsure to route by (a lone "no" read as Italian) is not told.
    insight.language, insight.language_confidence, insight.language_reliable = "it", 0.31, False
    assert describe(insight) == "Intent: order status (82%) \u00b7 sentiment: negative"
    assert (intent_label(""), sentiment_label(0.0), sentiment_label(0.5)) == (
        "unknown",
        "neutral",
        "positive",
    )


def test_local_midnight_follows_the_regions_time_zone() -> None:
    # 2026-01-01 00:30 in Berlin is 2025-12-31 23:30 UTC.
    at = 1767223800.0
    assert seconds_since_local_midnight(at, "Europe/Berlin") == pytest.approx(30 * 60)
    assert seconds_since_local_midnight(at, "UTC") == pytest.approx(23.5 * 3600)
    assert seconds_since_local_midnight(at, "Not/AZone") == pytest.approx(23.5 * 3600)


def test_a_state_is_timed_from_when_it_was_first_seen() -> None:
    now = [100.0]
    clock = StateClock(lambda: now[0])
    assert clock.since("t", "a", "available") == 100.0
    now[0] = 130.0
    assert clock.since("t", "a", "available") == 100.0
    assert clock.since("t", "a", "busy") == 130.0


class FakeRouting:
    def __init__(self) -> None:
        self.asked: list[routing_pb2.GetQueueStatsRequest] = []

    async def ListQueues(self, request: routing_pb2.ListQueuesRequest, **_: Any) -> Any:
        return routing_pb2.ListQueuesResponse(
            queues=[routing_pb2.QueueDefinition(name="support", brand="acme-retail")],
            agents_by_state={"busy": 1},
            agents=[routing_pb2.AgentOnBoard(agent_id="alice", state="busy", contacts=1, offers=1)],
        )

    async def GetQueueStats(self, request: routing_pb2.GetQueueStatsRequest, **_: Any) -> Any:
        self.asked.append(request)
        sms = request.channel == common_pb2.CHANNEL_KIND_SMS
        every = request.channel == common_pb2.CHANNEL_KIND_UNSPECIFIED
        counted = 4 if every or sms else 0
        return routing_pb2.GetQueueStatsResponse(
            depth=2,
            measured_contacts=counted,
            answered_within_target=3 if counted else 0,
            agents_for_target=4,
            additional_agents_needed=3,
            staffing_reachable=True,
        )

    async def GetFallbackStatus(self, request: routing_pb2.GetFallbackStatusRequest, **_: Any) -> Any:
        return routing_pb2.FallbackStatusResponse(
            policies=[
                routing_pb2.FallbackPolicyStatus(
                    policy="burst",
                    queue="support",
                    phase="engaged",
                    engaged_at=90.0,
                    metric="waiting",
                    value=12,
                    baseline=1,
                    score=7.5,
                    actions=["callback"],
                )
            ]
        )

    async def ListCallbacks(self, request: routing_pb2.ListCallbacksRequest, **_: Any) -> Any:
        return routing_pb2.ListCallbacksResponse(
            callbacks=[
                routing_pb2.CallbackRequestStatus(
                    contact_id="c-9",
                    queue="support",
                    state="scheduled",
                    waiting_since=900.0,
                    channel=common_pb2.CHANNEL_KIND_SMS,
                ),
                # Another queue's request: not this supervisor's to see.
                routing_pb2.CallbackRequestStatus(contact_id="c-10", queue="billing", state="scheduled"),
            ]
        )


class FakeRoster:
    async def ListAgents(self, request: Any, **_: Any) -> Any:
        return SimpleNamespace(
            agents=[
                SimpleNamespace(agent_id="alice", display_name="Alice", brands=["acme-retail"]),
                SimpleNamespace(agent_id="bob", display_name="Bob", brands=["acme-retail"]),
                SimpleNamespace(agent_id="zed", display_name="Zed", brands=["acme-bank"]),
            ]
        )


async def test_the_board_lists_the_roster_with_offline_agents_and_service_levels() -> None:
    routing = FakeRouting()
    board = await QueueBoard(
        routing, FakeRoster(), time_zone=lambda: "Europe/Berlin", clock=lambda: 1000.0
    ).board("acme", ["acme-retail"])
    assert board["agents"] == {"available": 0, "busy": 1, "after_contact_work": 0, "break": 0, "offline": 1}
    assert [(a["agentId"], a["state"], a["contacts"], a["offers"]) for a in board["agentList"]] == [
        ("alice", "busy", 1, 1),
        ("bob", "offline", 0, 0),
    ]
    # The surge guard's policies, with why and since when an engaged one engaged.
    (surge,) = board["surge"]
    assert (surge["policy"], surge["phase"], surge["engagedAt"], surge["metric"], surge["score"]) == (
        "burst",
        "engaged",
        90.0,
        "waiting",
        7.5,
    )
    assert board["callbacks"] == {
        "scheduled": [
            {"contactId": "c-9", "queue": "support", "agentId": "", "waitingSince": 900.0, "channel": "sms"}
        ],
        "placed": [],
        "failed": [],
    }
    (queue,) = board["queues"]
    # The staffing answer: "3 more agents to reach target".
    assert (queue["agentsForTarget"], queue["additionalAgentsNeeded"], queue["staffingReachable"]) == (
        4,
        3,
        True,
    )
    levels = board["serviceLevels"]
    assert levels["windows"] == ["last15m", "today"]
    assert levels["queues"]["support"]["last15m"] == {
        "serviceLevel": 0.75,
        "contacts": 4,
        "answeredInTarget": 3,
    }
    assert levels["channels"]["sms"]["today"]["serviceLevel"] == 0.75
    assert levels["channels"]["voice"]["last15m"]["serviceLevel"] is None
    assert {r.window_seconds for r in routing.asked if r.window_seconds} >= {900.0}
