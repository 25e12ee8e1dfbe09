"""Each example journey of `examples/flows` runs to its end against the real AI service.

The journeys run as routing runs them (`JourneyService` with its stores on a real NATS
JetStream, its AI steps asking the AI service process over the mesh), once per region overlay,
so the us, latam and ap-southeast variants run too (a routing process serves one region). The
queue figures the `queue-status` / `wait-time-estimate` steps read are given (a busy latam
queue, a short us wait); an external system answers the CRM lookups, or stays silent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import pytest
from _platform import Platform, platform  # noqa: F401 - the fixture

from ccflow.effects import AwaitInput, HandOff, Input, ScheduleCallback, SendPrompt
from ccflow.journey import Journey
from ccflow.loader import read_sources
from ccmesh import naming
from ccmesh.kv import ensure_bucket
from routing.adapters.ai_client import MeshAi
from routing.adapters.flow_store import FlowStore, JourneyStore, PolicyStore
from routing.domain.journey_facts import QueueLoad
from routing.service_layer.journeys import JourneyService, Step

pytestmark = pytest.mark.timeout(120)

SUPPORT = Path(__file__).resolve().parents[3] / "examples" / "flows" / "support"
TUESDAY_AFTERNOON = datetime(2026, 3, 3, 15, 0, tzinfo=UTC)
MONDAY_NIGHT_IN_NEW_YORK = datetime(2026, 3, 3, 4, 0, tzinfo=UTC)
CRM = {"crm-account": {"tier": "silver"}, "crm-cases": {"open": "0"}}
T = TypeVar("T")


class GivenQueues:
    def __init__(self, waiting: int, expected_wait_seconds: float) -> None:
        self.figures = QueueLoad(waiting, 30.0, 4, expected_wait_seconds)

    async def load(self, tenant: str, queue: str) -> QueueLoad:
        return self.figures


async def journeys_in(
    platform: Platform,  # noqa: F811
    region: str,
    clock: datetime = TUESDAY_AFTERNOON,
    queues: GivenQueues | None = None,
) -> tuple[JourneyService, list[tuple[Journey, HandOff]]]:
    js = platform.nc.jetstream()
    flows = await ensure_bucket(js, naming.flows_bucket(region))
    stored = await ensure_bucket(js, naming.journeys_bucket(region))
    published: list[tuple[Journey, HandOff]] = []

    async def publish_queued(journey: Journey, tenant: str, hand_off: HandOff) -> None:
        published.append((Journey.from_dict(journey.to_dict()), hand_off))

    service = JourneyService(
        FlowStore(flows),
        JourneyStore(stored),
        region,
        publish_queued,
        PolicyStore(flows),
        clock=lambda: clock,
        ai=MeshAi(platform.channel(platform.token("acme", "admin"))),
        queues=queues or GivenQueues(3, 40.0),
    )
    files = [(str(Path(name).relative_to(SUPPORT.parent)), text) for name, text in read_sources([SUPPORT])]
    version, _, _ = await service.publish_flow("acme", "support", files)
    await service.set_alias("acme", "support", "live", version, 0, 0.0)
    return service, published


async def answering(
    service: JourneyService, contact: str, answers: Mapping[str, dict[str, str]], step: Awaitable[T]
) -> T:
    """Run `step` while the CRM answers each lookup as soon as the journey waits for it."""
    task = asyncio.ensure_future(step)
    while not task.done():
        for name, data in answers.items():
            service.flow_event_waits.deliver("acme", contact, name, data)
        await asyncio.sleep(0.01)
    return task.result()


def prompts(step: Step) -> list[str]:
    return [e.prompt for e in step.effects if isinstance(e, SendPrompt | AwaitInput)]


def chat(contact: str, text: str, **context: str) -> Journey:
    return Journey(journey_id=contact, flow="support", channel="chat", input=text, text=text, **context)


async def test_eu_self_service_resolves_the_contact(platform: Platform) -> None:  # noqa: F811
    await platform.start("ai")
    service, published = await journeys_in(platform, "eu")
    step = await service.start("acme", chat("eu-1", "Hola, tengo una pregunta sobre mi factura"), "live")
    # No intent model for the tenant: out of scope, so the menu asks; the language is learned.
    assert (step.journey.node, step.journey.language, step.journey.intent) == ("menu", "es", "out_of_scope")
    step = await answering(service, "eu-1", CRM, service.resume("acme", "eu-1", Input("2")))
    assert step.journey.attributes["account"] == {"tier": "silver"}
    assert step.journey.node == "eu-offer" and prompts(step) == ["self-service-offer"]
    await service.resume("acme", "eu-1", Input("yes"))
    done = await service.resume("acme", "eu-1", Input("yes"))
    assert done.journey.outcome == {"kind": "end", "outcome": "self-service-resolved"}
    assert published == []


async def test_us_daytime_announces_the_wait_and_queues_with_the_language(platform: Platform) -> None:  # noqa: F811
    await platform.start("ai")
    service, published = await journeys_in(platform, "us", queues=GivenQueues(3, 40.0))
    await service.start("acme", chat("us-1", "Hello, I need help with my account please"), "live")
    # Nobody answers the CRM here: each lookup waits its 2 s and takes its error branch.
    step = await service.resume("acme", "us-1", Input("1"))
    assert prompts(step) == ["wait-time-announcement", "sla-promise"]
    assert step.journey.attributes["wait"] == {"seconds": 40, "queue": "us-support"}
    assert step.journey.attributes["within_sla"] is True
    [(queued, hand_off)] = published
    assert (hand_off.queue, queued.language) == ("us-support", "en")


async def test_us_after_hours_offers_a_callback(platform: Platform) -> None:  # noqa: F811
    await platform.start("ai")
    service, published = await journeys_in(platform, "us", clock=MONDAY_NIGHT_IN_NEW_YORK)
    await service.start("acme", chat("us-2", "Hello, I need help with my account please"), "live")
    step = await answering(service, "us-2", CRM, service.resume("acme", "us-2", Input("1")))
    assert prompts(step) == ["after-hours"]
    assert [e.queue for e in step.effects if isinstance(e, ScheduleCallback)] == ["us-support"]
    assert published == []


@pytest.mark.parametrize(
    ("waiting", "outcome"), [(80, "callback"), (30, "latam-overflow"), (2, "latam-support")]
)
async def test_latam_peak_protection_reads_the_queue(platform: Platform, waiting: int, outcome: str) -> None:  # noqa: F811
    await platform.start("ai")
    service, published = await journeys_in(platform, "latam", queues=GivenQueues(waiting, 90.0))
    await service.start("acme", chat("la-1", "Olá, preciso de ajuda com o meu pedido"), "live")
    step = await answering(service, "la-1", CRM, service.resume("acme", "la-1", Input("1")))
    assert step.journey.attributes["load"]["waiting"] == waiting
    if outcome == "callback":
        assert step.journey.waiting_for == "callback" and published == []
    else:
        assert [(h.queue, j.language) for j, h in published] == [(outcome, "pt")]


async def test_ap_southeast_voice_goes_straight_to_the_voice_queue(platform: Platform) -> None:  # noqa: F811
    await platform.start("ai")
    service, published = await journeys_in(platform, "ap-southeast")
    voice = Journey(journey_id="ap-1", flow="support", channel="voice")
    step = await service.start("acme", voice, "live")
    assert step.journey.outcome["queue"] == "apse-voice"
    chat_step = await service.start("acme", chat("ap-2", "hi, can someone call me?"), "live")
    assert chat_step.journey.waiting_for == "callback"
    assert [h.queue for _, h in published] == ["apse-voice"]


async def test_the_bank_brand_asks_for_the_pin_and_an_ai_outage_takes_the_menu(platform: Platform) -> None:  # noqa: F811
    # No AI service runs: every AI step fails at once ("no responders") and takes its error branch.
    service, published = await journeys_in(platform, "eu")
    step = await service.start("acme", chat("bank-1", "my card was stolen", brand="acme-bank"), "live")
    assert (step.journey.node, prompts(step)) == ("menu", ["bank-welcome", "main-menu"])
    assert step.journey.errors[0]["node"] == "detect-intent"
    step = await answering(service, "bank-1", CRM, service.resume("acme", "bank-1", Input("1")))
    assert step.journey.node == "bank-pin"
    step = await service.resume("acme", "bank-1", Input("1234"))
    assert step.journey.attributes["verified"] is True and step.journey.node == "eu-offer"
    assert published == []
