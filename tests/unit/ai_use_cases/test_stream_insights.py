"""`StreamInsights` over fakes: each inbound message is analysed, joins its conversation and is
announced once as an `InsightFound` naming the message, its channel and what was found; the
entry point's language stands in when the text cannot tell."""

from __future__ import annotations

from fakes.ai_fakes import REGION, TENANT, FakeConversations, FixedPipeline, InlineInference, OnePipeline
from fakes.published import FakePublisher

from ai.adapters.event_codec import to_protobuf
from ai.domain.events import AiEvent, InsightFound
from ai.entrypoints.convert import inbound_message, insight_event
from ai.service_layer.analysis import Analyzer
from ai.service_layer.streaming import InboundMessage, StreamInsights
from ccmesh.channels import Channel
from ccmesh.envelope import new_event
from ccpolicy.pii import Entity
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2


def analyzer(pipeline: FixedPipeline, store: FakeConversations) -> Analyzer:
    return Analyzer(OnePipeline(pipeline), store, InlineInference())


def use_case(
    pipeline: FixedPipeline | None = None,
) -> tuple[StreamInsights, FakeConversations, FakePublisher[AiEvent]]:
    store, events = FakeConversations(), FakePublisher[AiEvent]()
    return StreamInsights(analyzer(pipeline or FixedPipeline(), store), events), store, events


def message(
    text: str = "I want my money back, mail me at jo@example.com", **changes: object
) -> InboundMessage:
    fields: dict[str, object] = {
        "tenant_id": TENANT,
        "brand_id": "acme-retail",
        "contact_id": "c1",
        "message_id": "m1",
        "text": text,
        "channel": Channel.SMS,
        "expected_language": "",
    }
    fields.update(changes)
    return InboundMessage(**fields)  # type: ignore[arg-type]


async def test_a_message_is_announced_with_what_the_pipeline_found() -> None:
    insights, store, events = use_case(
        FixedPipeline(entities=[Entity(33, 47, "email"), Entity(0, 1, "email")])
    )
    found = await insights.on_message(message())
    assert events.published == [found]
    assert (found.tenant_id, found.brand_id, found.contact_id, found.message_id) == (
        TENANT,
        "acme-retail",
        "c1",
        "m1",
    )
    assert (found.channel, found.language, found.intent, found.sentiment) == (
        Channel.SMS,
        "en",
        "refund",
        -0.5,
    )
    assert found.entity_kinds == ("email",)  # kinds only, each once
    assert found.escalation_reasons == ("negative sentiment",)
    assert "jo@example.com" not in found.redacted_text
    assert found.pipeline == "fixed"
    # The message joined its conversation, redacted.
    (turn,) = store.conversations[(TENANT, "c1")]["turns"]
    assert turn["message_id"] == "m1" and turn["text"] == found.redacted_text


async def test_an_undetermined_language_falls_back_to_the_entry_points_with_no_confidence() -> None:
    insights, _, events = use_case(FixedPipeline(language="und", language_confidence=0.3))
    found = await insights.on_message(message("ok", expected_language="de"))
    assert (found.language, found.language_confidence, found.language_reliable) == ("de", 0.0, False)
    without_hint = await insights.on_message(message("ok", message_id="m2"))
    assert without_hint.language == "und"
    assert len(events.published) == 2


async def test_the_sentiment_trend_follows_the_conversation() -> None:
    pipeline = FixedPipeline(sentiment=0.5)
    insights, _, _ = use_case(pipeline)
    await insights.on_message(message("great", message_id="m1"))
    pipeline.sentiment = -0.5
    worse = await insights.on_message(message("this is terrible", message_id="m2"))
    assert worse.sentiment_trend < 0


async def test_the_streamed_event_is_the_one_insight_event_builds_from_the_received_event() -> None:
    received = new_event(
        events_pb2.MessageReceived(
            message_id="m1", text="where is my order", channel=common_pb2.CHANNEL_KIND_WEBCHAT, language="en"
        ),
        tenant_id=TENANT,
        brand_id="acme-retail",
        region=REGION,
        source="gateway",
        contact_id="c1",
        event_id="e1",
    )
    insights, _, events = use_case()
    await insights.on_message(inbound_message(received))
    (published,) = events.published
    assert isinstance(published, InsightFound) and published.channel is Channel.WEBCHAT
    streamed = to_protobuf(published, REGION)
    analysis = await analyzer(FixedPipeline(), FakeConversations()).analyze(
        TENANT, "acme-retail", "where is my order"
    )
    built = insight_event(received, "m1", analysis)
    streamed.ClearField("occurred_at")
    built.ClearField("occurred_at")
    assert streamed == built


def test_a_received_event_without_message_id_is_named_by_its_event_id() -> None:
    received = events_pb2.Event(event_id="e9", contact_id="c1")
    received.message_received.text = "hi"
    decoded = inbound_message(received)
    assert (decoded.message_id, decoded.channel) == ("e9", None)
