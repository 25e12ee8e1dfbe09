"""The ai service over the mesh: analysis, hot-swapped intent models, configured pipelines with a
third-party component, agent assist, summaries, tickets, streaming insights and bad input."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from _platform import REGION, Platform, eu_contact_center, eventually

from ai.domain.intent import fingerprint
from ccmesh import naming
from ccmesh.configplane.models import AiComponentStep, AiPipeline, AiSettings, ContactCenter
from ccmesh.events import EventPublisher
from ccmesh.status import RpcError
from contactcenter.ai.v1 import ai_pb2
from contactcenter.ai.v1.ai_pb2_grpc import AiServiceStub
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2

pytestmark = pytest.mark.timeout(90)

SHOP = {
    "order_status": [
        "where is my order",
        "has my package shipped",
        "when will my parcel arrive",
        "track my order",
    ],
    "refund": ["I want my money back", "please refund my purchase", "how do I get a refund", "refund please"],
}
SHOP_V2 = {
    **SHOP,
    "order_status": ["when does delivery happen", "delivery date please"],
    "track_package": ["where is my order", "track my order", "where is my parcel", "find my package"],
}


def train_request(tenant: str, intents: dict[str, list[str]], threshold: float = -1.0) -> Any:
    return ai_pb2.TrainIntentsRequest(
        tenant_id=tenant,
        intents=[ai_pb2.IntentExamples(intent=k, examples=v) for k, v in intents.items()],
        out_of_scope_threshold=threshold,
    )


async def intent_of(ai: Any, tenant: str, text: str) -> str:
    reply = await ai.AnalyzeMessage(ai_pb2.AnalyzeMessageRequest(tenant_id=tenant, text=text))
    return str(reply.insight.intent)


def with_pipelines(document: ContactCenter, *pipelines: AiPipeline) -> ContactCenter:
    spec = document.spec.model_copy(update={"ai": AiSettings(pipelines=list(pipelines))})
    return document.model_copy(update={"spec": spec})


async def test_training_a_new_model_changes_answers_without_a_restart_and_only_for_that_tenant(
    platform: Platform,
) -> None:
    await platform.start("ai")
    acme = platform.stub(AiServiceStub, tenant="acme", role="admin")
    globex = platform.stub(AiServiceStub, tenant="globex", role="admin")
    assert await intent_of(acme, "acme", "where is my order") == "out_of_scope"  # no model yet

    first = await acme.TrainIntents(train_request("acme", SHOP))
    await globex.TrainIntents(train_request("globex", SHOP))
    assert await intent_of(acme, "acme", "where is my order") == "order_status"
    assert await intent_of(globex, "globex", "where is my order") == "order_status"

    second = await acme.TrainIntents(train_request("acme", SHOP_V2))
    assert second.version != first.version
    assert await intent_of(acme, "acme", "where is my order") == "track_package"
    described = await acme.GetIntentModel(ai_pb2.GetIntentModelRequest(tenant_id="acme"))
    assert described.version == second.version and "track_package" in described.intents
    # The encoder package is installed: the service trains two-stage models (TF-IDF, then the
    # multilingual sentence embedding).
    assert described.version == fingerprint(SHOP_V2, -1.0, "tfidf-use-multilingual-v3-svm")
    # The other tenant still has its own model.
    assert await intent_of(globex, "globex", "where is my order") == "order_status"


async def test_with_the_sentence_encoder_turned_off_models_are_tfidf_only(
    platform: Platform,
) -> None:
    await platform.start("ai", settings={"ai": {"sentence_encoder": False}})
    acme = platform.stub(AiServiceStub, tenant="acme", role="admin")
    trained = await acme.TrainIntents(train_request("acme", SHOP))
    assert trained.version == fingerprint(SHOP, -1.0, "tfidf-svm")
    assert await intent_of(acme, "acme", "where is my order") == "order_status"


async def test_a_model_stored_by_another_replica_is_picked_up_live(platform: Platform) -> None:
    """A second replica (simulated by writing the bucket directly) trains: this one swaps too."""
    from ai.adapters.tenant_store import TenantStore

    await platform.start("ai")
    acme = platform.stub(AiServiceStub, tenant="acme", role="admin")
    store = await TenantStore.open(platform.nc.jetstream(), REGION, [])
    await store.put_artifact("intent", "acme", {"examples": SHOP_V2, "threshold": -1.0})

    async def swapped() -> bool:
        return await intent_of(acme, "acme", "find my package") == "track_package"

    await eventually(swapped, seconds=30)


async def test_bad_training_input_is_invalid_argument_and_the_model_in_effect_stays(
    platform: Platform,
) -> None:
    await platform.start("ai")
    admin = platform.stub(AiServiceStub, tenant="acme", role="admin")
    await admin.TrainIntents(train_request("acme", SHOP))
    for bad, problem in [
        ({"only_one": ["a", "b"]}, "at least 2 intents"),
        ({"a": ["x"], "b": [""]}, "intent 'b' has no non-empty example"),
        (SHOP, "must be a finite number"),
    ]:
        threshold = float("nan") if bad is SHOP else -1.0
        with pytest.raises(RpcError) as caught:
            await admin.TrainIntents(train_request("acme", bad, threshold))
        assert caught.value.code is grpc.StatusCode.INVALID_ARGUMENT
        assert problem in caught.value.message
    assert await intent_of(admin, "acme", "where is my order") == "order_status"
    one_each = await admin.TrainIntents(train_request("acme", {"hello": ["hi there"], "bye": ["see you"]}))
    assert len(one_each.warnings) == 2  # accepted, degraded: says so
    agent = platform.stub(AiServiceStub, tenant="acme", role="agent")
    with pytest.raises(RpcError) as denied:
        await agent.TrainIntents(train_request("acme", SHOP))
    assert denied.value.code is grpc.StatusCode.PERMISSION_DENIED


async def test_bad_text_gets_a_clear_error_or_a_documented_degraded_answer(platform: Platform) -> None:
    await platform.start("ai")
    ai = platform.stub(AiServiceStub, tenant="acme", role="agent")
    empty = await ai.AnalyzeMessage(ai_pb2.AnalyzeMessageRequest(tenant_id="acme", text=""))
    assert (empty.insight.language, empty.insight.intent, empty.insight.sentiment_label) == (
        "und",
        "out_of_scope",
        "neutral",
    )
    garbage = bytes(range(1, 32)).decode() + "\ufffd\ufffd" + "\x7f" * 10
    odd = await ai.AnalyzeMessage(ai_pb2.AnalyzeMessageRequest(tenant_id="acme", text=garbage))
    assert odd.insight.intent == "out_of_scope"
    with pytest.raises(RpcError) as caught:
        await ai.AnalyzeMessage(ai_pb2.AnalyzeMessageRequest(tenant_id="acme", text="a" * 1_000_000))
    # 1 MB is over the mesh's request limit or the service's text limit: either way, named.
    assert caught.value.code in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED)
    with pytest.raises(RpcError) as too_long:
        await ai.AnalyzeMessage(ai_pb2.AnalyzeMessageRequest(tenant_id="acme", text="a" * 100_001))
    assert too_long.value.code is grpc.StatusCode.INVALID_ARGUMENT and "100000" in too_long.value.message
    with pytest.raises(RpcError) as bad_contact:
        await ai.AnalyzeMessage(ai_pb2.AnalyzeMessageRequest(tenant_id="acme", contact_id="a.b", text="hi"))
    assert (
        bad_contact.value.code is grpc.StatusCode.INVALID_ARGUMENT
        and "contact id" in bad_contact.value.message
    )
    other = platform.stub(AiServiceStub, tenant="globex", role="agent")
    with pytest.raises(RpcError) as denied:
        await other.AnalyzeMessage(ai_pb2.AnalyzeMessageRequest(tenant_id="acme", text="hi"))
    assert denied.value.code is grpc.StatusCode.PERMISSION_DENIED


async def test_a_configured_pipeline_uses_a_third_party_component_and_an_unknown_one_is_reported(
    platform: Platform,
) -> None:
    await platform.start("ai")
    ai = platform.stub(AiServiceStub, tenant="acme", role="admin")
    listed = await ai.ListComponents(ai_pb2.ListComponentsRequest(tenant_id="acme"))
    by_name = {c.name: c for c in listed.components}
    assert by_name["shouting"].distribution == "acme-shouting"
    assert by_name["language"].distribution == "contactcenter" and "th" in by_name["language"].languages

    shouting = AiPipeline(
        name="acme-loud",
        tenant="acme",
        components=[
            AiComponentStep(name="language"),
            AiComponentStep(name="shouting"),
            AiComponentStep(name="pii"),
        ],
    )
    await platform.apply(with_pipelines(eu_contact_center(), shouting))

    async def configured() -> Any:
        reply = await ai.AnalyzeMessage(
            ai_pb2.AnalyzeMessageRequest(tenant_id="acme", text="WHERE IS MY ORDER")
        )
        return reply.insight if reply.insight.pipeline == "acme-loud" else None

    insight = await eventually(configured)
    assert insight.extras["shouting"] == "yes"
    assert list(insight.components) == ["language", "shouting", "pii"]
    globex = platform.stub(AiServiceStub, tenant="globex", role="admin")
    other = await globex.AnalyzeMessage(ai_pb2.AnalyzeMessageRequest(tenant_id="globex", text="WHERE IS IT"))
    assert other.insight.pipeline == "default"

    broken = AiPipeline(name="acme-loud", tenant="acme", components=[AiComponentStep(name="telepathy")])
    await platform.apply(with_pipelines(eu_contact_center(), broken))

    async def reported() -> Any:
        found = await ai.ListComponents(ai_pb2.ListComponentsRequest(tenant_id="acme"))
        return [b for b in found.broken if "telepathy" in b]

    problems = await eventually(reported)
    assert "unknown component" in problems[0]
    # Nothing already accepted is lost: the last good pipeline stays in effect for acme.
    again = await ai.AnalyzeMessage(ai_pb2.AnalyzeMessageRequest(tenant_id="acme", text="WHERE IS MY ORDER"))
    assert again.insight.pipeline == "acme-loud" and again.insight.extras["shouting"] == "yes"


async def test_agent_assist_summary_and_wrap_up_ticket_event(platform: Platform) -> None:
    await platform.start("ai")
    admin = platform.stub(AiServiceStub, tenant="acme", role="admin")
    agent = platform.stub(AiServiceStub, tenant="acme", role="agent")
    await admin.TrainIntents(train_request("acme", SHOP))
    loaded = await admin.LoadKnowledge(
        ai_pb2.LoadKnowledgeRequest(
            tenant_id="acme",
            articles=[
                ai_pb2.Article(
                    article_id="refunds", title="Refunds", body="Refunds reach your card in 5 days."
                ),
                ai_pb2.Article(article_id="delivery", title="Delivery", body="Delivery takes 2 to 4 days."),
            ],
        )
    )
    assert (loaded.loaded, loaded.total) == (2, 2)
    turns = [
        (
            ai_pb2.SPEAKER_CUSTOMER,
            "Hello. I want my money back for the broken blender. Mail me at jo@example.com.",
        ),
        (ai_pb2.SPEAKER_AGENT, "Sorry about the blender. I will start the refund now."),
        (ai_pb2.SPEAKER_CUSTOMER, "This is terrible, the refund still has not arrived!!"),
    ]
    for index, (speaker, text) in enumerate(turns):
        await agent.AnalyzeMessage(
            ai_pb2.AnalyzeMessageRequest(
                tenant_id="acme", contact_id="c-1", message_id=f"m{index}", text=text, speaker=speaker
            )
        )
    # A redelivered message is not counted twice.
    await agent.AnalyzeMessage(
        ai_pb2.AnalyzeMessageRequest(tenant_id="acme", contact_id="c-1", message_id="m2", text=turns[2][1])
    )
    suggested = await agent.SuggestReplies(ai_pb2.SuggestRepliesRequest(tenant_id="acme", contact_id="c-1"))
    assert suggested.suggestions[0].article_id == "refunds"
    assert suggested.suggestions[0].reply == "Refunds reach your card in 5 days."

    summary = await agent.SummarizeConversation(
        ai_pb2.SummarizeConversationRequest(tenant_id="acme", contact_id="c-1")
    )
    assert summary.messages == 3
    assert summary.summary.startswith("Customer: I want my money back for the broken blender.")
    assert "jo@example.com" not in summary.summary
    assert summary.sentiment_trend < 0

    before = await platform.event_count()
    wrapped = await agent.WrapUpConversation(
        ai_pb2.WrapUpConversationRequest(tenant_id="acme", contact_id="c-1", customer_ref="cust-7")
    )
    ticket = wrapped.ticket
    assert ticket.category == "refund"
    assert ticket.priority in {"high", "urgent"}
    assert list(ticket.entity_kinds) == ["email"]
    assert ticket.customer_ref == "cust-7" and ticket.contact_id == "c-1"
    assert "jo@example.com" not in ticket.summary + ticket.title
    assert await platform.event_count() == before + 1
    js = platform.nc.jetstream()
    message = await js.get_last_msg(naming.events_stream(REGION).name, f"ccevt.{REGION}.acme.ai_ticket.c-1")
    event = events_pb2.Event.FromString(message.data)
    assert (event.source, event.ai_ticket.category) == ("ai", "refund")
    with pytest.raises(RpcError) as gone:
        await agent.SummarizeConversation(
            ai_pb2.SummarizeConversationRequest(tenant_id="acme", contact_id="c-1")
        )
    assert gone.value.code is grpc.StatusCode.NOT_FOUND


async def test_each_inbound_message_is_analysed_from_the_stream_and_its_insight_published(
    platform: Platform,
) -> None:
    document = eu_contact_center()
    spec = document.spec.model_copy(update={"ai": AiSettings(stream_insights=True)})
    await platform.apply(document.model_copy(update={"spec": spec}))
    await platform.start("ai")
    await platform.stub(AiServiceStub, tenant="acme", role="admin").TrainIntents(train_request("acme", SHOP))
    publisher = EventPublisher(platform.nc.jetstream(), REGION)
    received = events_pb2.Event(
        event_id="evt-1",
        tenant=common_pb2.TenantRef(tenant_id="acme", brand_id="acme-retail"),
        region=REGION,
        contact_id="contact-9",
        source="gateway",
        message_received=events_pb2.MessageReceived(
            message_id="msg-1", text="Where is my order?? Call me on +44 20 7946 0958, this is terrible"
        ),
    )
    await publisher.publish(received)
    js = platform.nc.jetstream()
    subject = f"ccevt.{REGION}.acme.ai_insight.contact-9"

    async def published() -> Any:
        try:
            return await js.get_last_msg(naming.events_stream(REGION).name, subject)
        except Exception:
            return None

    message = await eventually(published, seconds=20)
    insight = events_pb2.Event.FromString(message.data).ai_insight
    assert events_pb2.Event.FromString(message.data).event_id == "ai-insight-msg-1"
    assert insight.message_id == "msg-1"
    assert insight.language == "en" and insight.intent == "order_status"
    assert insight.sentiment < 0 and insight.escalation_score > 0
    assert list(insight.entity_kinds) == ["phone"]
    assert "7946" not in insight.redacted_text and "[PHONE]" in insight.redacted_text


async def test_without_stream_insights_in_the_spec_no_insight_is_published(platform: Platform) -> None:
    # Said explicitly: the example region (examples/eu.yaml) switches streaming on.
    document = eu_contact_center()
    spec = document.spec.model_copy(update={"ai": AiSettings(stream_insights=False)})
    await platform.apply(document.model_copy(update={"spec": spec}))
    await platform.start("ai")
    publisher = EventPublisher(platform.nc.jetstream(), REGION)
    for index in range(3):
        await publisher.publish(
            events_pb2.Event(
                event_id=f"evt-{index}",
                tenant=common_pb2.TenantRef(tenant_id="acme"),
                region=REGION,
                contact_id="contact-1",
                message_received=events_pb2.MessageReceived(
                    message_id=f"m-{index}", text="where is my order"
                ),
            )
        )
    js = platform.nc.jetstream()

    async def consumed() -> bool:
        info = await js.consumer_info(naming.events_stream(REGION).name, "ai-insights")
        return info.num_pending == 0 and info.num_ack_pending == 0 and info.delivered.stream_seq >= 3

    await eventually(consumed, seconds=20)
    assert await platform.event_count() == 3
