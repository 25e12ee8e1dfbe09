"""The insight event names the analysed message's channel, and a language when the text alone cannot."""

from __future__ import annotations

from ai.domain.component import Insights
from ai.entrypoints.convert import insight_event
from ai.service_layer.analysis import Analysis
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2


def received(language: str) -> events_pb2.Event:
    event = events_pb2.Event(contact_id="k1", region="eu")
    event.tenant.tenant_id = "acme"
    event.message_received.channel = common_pb2.CHANNEL_KIND_VOICE
    event.message_received.language = language
    event.message_received.text = "yes"
    return event


def analysis(language: str) -> Analysis:
    return Analysis("default", [], Insights(tenant_id="acme", text="yes", language=language), 0.0)


def test_a_voice_insight_is_labelled_voice_with_the_entry_points_language_when_undetermined() -> None:
    insight = insight_event(received("en"), "m1", analysis("und")).ai_insight
    assert (insight.channel, insight.language) == (common_pb2.CHANNEL_KIND_VOICE, "en")


def test_a_detected_language_wins_and_no_hint_keeps_undetermined() -> None:
    assert insight_event(received("en"), "m1", analysis("de")).ai_insight.language == "de"
    assert insight_event(received(""), "m1", analysis("und")).ai_insight.language == "und"
