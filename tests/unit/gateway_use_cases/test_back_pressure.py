"""Back-pressure at the edge over fakes: a new contact beyond its queue's or tenant's ceiling is
answered at once on its channel, recorded and closed; one beyond nothing is queued as before;
routing's report is asked once per interval, and a routing that cannot answer admits everyone."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import grpc
import pytest
from fakes.gateway_fakes import (
    REGION,
    FakeContacts,
    FakeEvents,
    FakeIdentity,
    FakeRouting,
    channel_endpoint,
    directory_of,
    sms,
)

from ccmesh.configplane.back_pressure import BackPressure
from ccmesh.status import RpcError
from contactcenter.common.v1 import common_pb2
from contactcenter.routing.v1 import routing_pb2
from gateway.domain.back_pressure import (
    CALLBACK_OFFER,
    Pending,
    QueueLoad,
    TenantLoad,
    asks_callback,
    judge,
    offers_callback,
    wait_minutes,
    wait_phrase,
    worded_by,
)
from gateway.domain.inbound import InboundMessage
from gateway.service_layer.accept_inbound import accept_inbound
from gateway.service_layer.back_pressure import EdgeAdmission
from gateway.service_layer.conversation import Conversations

SETTINGS = BackPressure.model_validate(
    {
        "maxWaiting": 10,
        "queues": [
            {"queue": "support", "maxWaiting": 2},
            {"queue": "vip", "maxWaiting": 1, "deflection": {"message": "VIP line busy ({wait})."}},
        ],
        "deflection": {"selfServiceUrl": "https://help.acme.example"},
    }
)
ENDPOINTS = (
    channel_endpoint("acme-sms", queue="support"),
    channel_endpoint(
        "acme-sms-es",
        queue="support",
        language="es",
        prompts={
            "deflection": "Busy ({wait}).",
            "deflection.es": "Todos ocupados; espera de {wait_minutes} minutos. {self_service_url}",
        },
    ),
    channel_endpoint("acme-voice", "voice", queue="support"),
    channel_endpoint("acme-journey", flow="orders"),
)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Depths:
    """Routing's GetQueueDepths: the report set by the test, every call counted."""

    def __init__(self, **waiting: int) -> None:
        self.waiting = waiting
        self.wait_seconds = 240.0
        self.calls = 0
        self.fail: Exception | None = None

    async def GetQueueDepths(self, request: routing_pb2.GetQueueDepthsRequest, **_: Any) -> Any:
        self.calls += 1
        await asyncio.sleep(0)
        if self.fail is not None:
            raise self.fail
        queues = [
            routing_pb2.QueueDepth(queue=name, waiting=count, estimated_wait_seconds=self.wait_seconds)
            for name, count in sorted(self.waiting.items())
        ]
        return routing_pb2.GetQueueDepthsResponse(queues=queues, waiting=sum(self.waiting.values()))


def admission(depths: Depths, clock: Clock, settings: BackPressure | None = SETTINGS) -> EdgeAdmission:
    return EdgeAdmission(depths, lambda tenant: settings if tenant == "acme" else None, clock=clock)


# -- the decision --------------------------------------------------------------------------


def test_the_queue_ceiling_counts_the_reported_and_the_admitted_contacts() -> None:
    load = TenantLoad({"support": QueueLoad(1, 90.0)}, waiting=1)
    assert judge(SETTINGS, "support", load, Pending()) is None
    verdict = judge(SETTINGS, "support", load, Pending(tenant=1, queues={"support": 1}))
    assert verdict is not None
    assert (verdict.ceiling, verdict.max_waiting, verdict.waiting, verdict.queue) == (
        "queue",
        2,
        2,
        "support",
    )
    assert verdict.text() == (
        "All our agents are busy right now; the expected wait is about 2 minutes. "
        "You can find answers at https://help.acme.example, or try again later."
    )
    assert verdict.offered() == ("estimated_wait", "self_service")


def test_the_tenant_ceiling_guards_journeys_and_queues_without_their_own() -> None:
    load = TenantLoad({"support": QueueLoad(0), "billing": QueueLoad(10)}, waiting=10)
    journey = judge(SETTINGS, "", load, Pending())
    assert journey is not None and (journey.ceiling, journey.queue) == ("tenant", "")
    assert "longer than usual" in journey.text()
    assert judge(SETTINGS, "billing", TenantLoad({"billing": QueueLoad(9)}, waiting=9), Pending()) is None
    tenantless = BackPressure.model_validate({"queues": [{"queue": "support", "maxWaiting": 0}]})
    assert judge(tenantless, "", load, Pending()) is None
    zero = judge(tenantless, "support", TenantLoad(), Pending())
    assert zero is not None and zero.waiting == 0


def test_a_queues_own_answer_replaces_the_tenants() -> None:
    verdict = judge(SETTINGS, "vip", TenantLoad({"vip": QueueLoad(1, 30.0)}, 1), Pending())
    assert verdict is not None and verdict.text() == "VIP line busy (under a minute)."
    assert verdict.offered() == ("estimated_wait",)


def test_an_entry_points_deflection_prompt_words_the_answer_in_the_contacts_language() -> None:
    prompts = {"deflection": "Busy ({wait}).", "deflection.es": "Ocupados ({wait}).", "welcome": "Hi"}
    assert worded_by(prompts, "es-MX") == "Ocupados ({wait})."
    assert worded_by(prompts, "de") == "Busy ({wait})."
    assert worded_by({"welcome": "Hi"}, "es") == ""
    verdict = judge(SETTINGS, "support", TenantLoad({"support": QueueLoad(5, 90.0)}, 5), Pending())
    assert verdict is not None
    assert verdict.text("Busy ({wait}).") == "Busy (about 2 minutes)."
    assert verdict.offered("Busy ({wait}).") == ("estimated_wait",)
    # A prompt that is no valid template (checked on apply only for the tenant's message): the
    # tenant's message is sent instead.
    assert verdict.text("Busy {for}") == verdict.text() and verdict.offered("Busy {for}") == verdict.offered()


@pytest.mark.parametrize(
    ("seconds", "said"),
    [
        (0.0, "under a minute"),
        (61.0, "about 2 minutes"),
        (7300.0, "over 2 hours"),
        (math.inf, "longer than usual"),
    ],
)
def test_a_wait_is_told_in_whole_minutes(seconds: float, said: str) -> None:
    assert wait_phrase(seconds) == said


def test_a_wait_in_minutes_for_any_language() -> None:
    assert [wait_minutes(s) for s in (0.0, 61.0, 3600.0, 3601.0, math.inf)] == ["1", "2", "60", "60+", "60+"]


# -- the admission -------------------------------------------------------------------------


async def test_concurrent_new_contacts_share_one_report_and_only_the_ceiling_is_admitted() -> None:
    depths, clock = Depths(support=0), Clock()
    gate = admission(depths, clock)
    verdicts = await asyncio.gather(*(gate.admit("acme", "support") for _ in range(5)))
    assert [v is None for v in verdicts].count(True) == 2
    assert depths.calls == 1
    # Within the interval the report is reused; after it, routing is asked again and what it now
    # counts replaces the contacts admitted before the question.
    assert await gate.admit("acme", "support") is not None
    clock.now += 1.5
    depths.waiting = {"support": 1}
    assert await gate.admit("acme", "support") is None
    assert await gate.admit("acme", "support") is not None
    assert depths.calls == 2


async def test_tenants_and_queues_without_a_ceiling_cost_no_question() -> None:
    depths = Depths()
    unguarded = BackPressure.model_validate({"queues": [{"queue": "vip", "maxWaiting": 1}]})
    gate = admission(depths, Clock(), unguarded)
    assert await gate.admit("acme", "support") is None
    assert await gate.admit("acme", "") is None
    assert await gate.admit("globex", "support") is None
    assert depths.calls == 0


async def test_a_routing_that_cannot_report_admits_everyone_and_is_not_asked_by_each_contact() -> None:
    depths, clock = Depths(support=5), Clock()
    depths.fail = RpcError(grpc.StatusCode.UNAVAILABLE, "routing unavailable")
    gate = admission(depths, clock)
    assert [await gate.admit("acme", "support") for _ in range(3)] == [None, None, None]
    assert depths.calls == 1
    clock.now += 1.5
    depths.fail = None
    assert await gate.admit("acme", "support") is not None


# -- the conversation ----------------------------------------------------------------------


class World:
    def __init__(self, **waiting: int) -> None:
        self.contacts, self.events = FakeContacts(), FakeEvents()
        self.depths = Depths(**waiting)
        self.conversations = Conversations(
            region=REGION,
            store=self.contacts,
            routing=FakeRouting(),
            endpoints=directory_of(*ENDPOINTS),
            events=self.events,
            admission=admission(self.depths, Clock()),
        )

    async def accept(self, message: InboundMessage) -> Any:
        accepted, _ = await accept_inbound(
            message,
            region=REGION,
            store=self.contacts,
            identity=FakeIdentity(),
            events=self.events,
            conversations=self.conversations,
        )
        return accepted


async def test_an_sms_beyond_the_ceiling_is_recorded_answered_on_its_channel_and_closed() -> None:
    world = World(support=2)
    accepted = await world.accept(sms("SM1", entry_point="acme-sms", text="where is my order"))
    assert world.events.kinds() == [
        "contact_created",
        "message_received",
        "contact_deflected",
        "message_sent",
        "contact_closed",
    ]
    (deflected,) = world.events.of_kind("contact_deflected")
    assert deflected.contact_id == accepted.contact_id
    body = deflected.contact_deflected
    assert (body.queue, body.ceiling, body.max_waiting, body.waiting) == ("support", "queue", 2, 2)
    assert (body.channel, body.estimated_wait_seconds) == (common_pb2.CHANNEL_KIND_SMS, 240.0)
    (answer,) = world.events.of_kind("message_sent")
    assert (answer.message_sent.channel, answer.message_sent.sender) == (common_pb2.CHANNEL_KIND_SMS, "bot")
    assert (
        "about 4 minutes" in answer.message_sent.text
        and "https://help.acme.example" in answer.message_sent.text
    )
    (closed,) = world.events.of_kind("contact_closed")
    assert closed.contact_closed.outcome == "deflected"
    assert world.events.of_kind("contact_queued") == []
    # The customer's next message opens a new contact (judged again), not the closed one.
    world.depths.waiting = {"support": 0}
    world.conversations._admission = admission(world.depths, Clock())  # a fresh report
    again = await world.accept(sms("SM2", entry_point="acme-sms"))
    assert again.contact_id != accepted.contact_id
    assert [e.contact_queued.queue for e in world.events.of_kind("contact_queued")] == ["support"]


async def test_the_answer_is_worded_by_the_entry_points_prompt_in_the_contacts_language() -> None:
    world = World(support=2)
    await world.accept(sms("SM5", entry_point="acme-sms-es"))
    (answer,) = world.events.of_kind("message_sent")
    assert answer.message_sent.text == "Todos ocupados; espera de 4 minutos. https://help.acme.example"


async def test_a_call_beyond_the_ceiling_hears_the_answer_and_hangs_up() -> None:
    world = World(support=3)
    call = sms("CA1:call", entry_point="acme-voice", text="")
    call = InboundMessage(**{**call.__dict__, "channel": common_pb2.CHANNEL_KIND_VOICE})
    accepted = await world.accept(call)
    assert [a.kind for a in accepted.actions] == ["send_prompt", "ended"]
    assert "expected wait is about 4 minutes" in accepted.actions[0].text
    assert world.events.kinds() == [
        "contact_created",
        "message_received",
        "contact_deflected",
        "contact_closed",
    ]


async def test_a_retried_delivery_of_a_deflected_message_publishes_nothing_twice() -> None:
    world = World(support=2)
    first = await world.accept(sms("SM9", entry_point="acme-sms"))
    again = await world.accept(sms("SM9", entry_point="acme-sms"))
    assert again.contact_id == first.contact_id
    assert len(world.events.of_kind("contact_deflected")) == 1


# -- the call back offered beyond the ceiling ----------------------------------------------


def test_the_answer_offers_a_call_back_only_where_the_address_is_a_number() -> None:
    verdict = judge(SETTINGS, "support", TenantLoad({"support": QueueLoad(2, 240.0)}, 2), Pending())
    assert verdict is not None
    on_sms = verdict.text(callable=True)
    assert on_sms.endswith(CALLBACK_OFFER) and "about 4 minutes" in on_sms
    assert verdict.offered(callable=True) == ("estimated_wait", "callback", "self_service")
    assert CALLBACK_OFFER not in verdict.text() and "callback" not in verdict.offered()
    # A tenant's own message places the offer where it wants it (and nowhere when it does not).
    worded = verdict.text("Busy ({wait}). {callback}", callable=True)
    assert worded == f"Busy (about 4 minutes). {CALLBACK_OFFER}"
    assert verdict.text("Busy ({wait}). {callback}").rstrip() == "Busy (about 4 minutes)."
    assert offers_callback(common_pb2.CHANNEL_KIND_WHATSAPP) and not offers_callback(
        common_pb2.CHANNEL_KIND_WEBCHAT
    )
    assert asks_callback(common_pb2.CHANNEL_KIND_SMS, "call me please")
    assert not asks_callback(common_pb2.CHANNEL_KIND_SMS, "call me about my order tomorrow")
    assert not asks_callback(common_pb2.CHANNEL_KIND_EMAIL, "CALL ME")


async def test_a_deflected_customers_call_me_is_queued_as_a_call_back_beyond_the_ceiling() -> None:
    world = World(support=2)
    await world.accept(sms("SM10", entry_point="acme-sms", text="where is my order"))
    (answer,) = world.events.of_kind("message_sent")
    assert answer.message_sent.text.endswith(CALLBACK_OFFER)
    assert list(world.events.of_kind("contact_deflected")[0].contact_deflected.offered) == [
        "estimated_wait",
        "callback",
        "self_service",
    ]
    # Still beyond the ceiling: the reply CALL ME is admitted, as a call-back request.
    called = await world.accept(sms("SM11", entry_point="acme-sms", text="CALL ME"))
    (queued,) = world.events.of_kind("contact_queued")
    assert (queued.contact_id, queued.contact_queued.queue) == (called.contact_id, "support")
    assert queued.contact_queued.callback is True
    assert len(world.events.of_kind("contact_deflected")) == 1
    # Its next message joins the waiting request, it is not judged again.
    again = await world.accept(sms("SM12", entry_point="acme-sms", text="thanks"))
    assert again.contact_id == called.contact_id
    assert len(world.events.of_kind("contact_deflected")) == 1
