"""Journeys whose AI step fails: the customer goes on by the error branch and nothing is lost.

An admin publishes a journey whose intent step allows the AI service less time than any answer
takes (a deadline it cannot meet, as when the AI service is overloaded), and a web chat
endpoint that starts it. The customer is told the fallback text, reaches the queue and the
agent, and the journey records which step failed and why. A flow whose AI step names a task
the platform has no component for, or a timeout of zero, is refused by `ccctl flow publish`
naming the field, and the live version stays the one customers use.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
from pathlib import Path

import pytest
import yaml

from ccctl.main import main as ccctl
from contactcenter.routing.v1 import routing_pb2, routing_pb2_grpc
from tests.e2e.harness import EXAMPLES, RunningRegion

pytestmark = pytest.mark.timeout(240)

BOT = {"from": "bot"}
PROMPTS = {
    "understood": "We understood what you need.",
    "ai-fallback": "Let us get you to a person who can help.",
}
CATALOG = """\
apiVersion: contactcenter.dev/v1alpha1
kind: FlowCatalog
metadata: {name: ai-timeout}
spec:
  queues: [eu-support]
  prompts: [understood, ai-fallback]
  aiComponents: [intent-classifier]
  flows: [ai-timeout]
"""
FLOW = """\
apiVersion: contactcenter.dev/v1alpha1
kind: Flow
metadata: {name: ai-timeout}
spec:
  start: ask-intent
  nodes:
    - {id: ask-intent, kind: ai, component: intent-classifier, task: intent, timeoutSeconds: TIMEOUT,
       next: understood, onFailure: fallback}
    - {id: understood, kind: message, prompt: understood, next: to-queue}
    - {id: fallback, kind: message, prompt: ai-fallback, next: to-queue}
    - {id: to-queue, kind: queue, queue: eu-support}
"""


def publish(e2e_region: RunningRegion, folder: Path, timeout: str, task: str = "intent") -> tuple[int, str]:
    """`ccctl flow publish` of the flow with this AI step; its exit code and what it printed."""
    source = folder / f"flow-{timeout}-{task}"
    source.mkdir()
    (source / "catalog.yaml").write_text(CATALOG)
    flow = FLOW.replace("TIMEOUT", timeout).replace("task: intent", f"task: {task}")
    (source / "ai-timeout.yaml").write_text(flow)
    args = ["flow", "publish", str(source), "--flow", "ai-timeout", "--tenant", "acme", "--alias", "live"]
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(err):
        code = ccctl([*args, "--nats-url", e2e_region.nats_url, "--mesh-region", e2e_region.region])
    return code, err.getvalue()


def apply_endpoint(e2e_region: RunningRegion, folder: Path) -> None:
    documents = list(yaml.safe_load_all((EXAMPLES / "channels" / "eu.yaml").read_text()))
    template = next(d for d in documents if d["metadata"]["name"] == "acme-webchat-journey")
    endpoint = {**template, "metadata": {"name": "acme-webchat-ai-timeout"}}
    spec = {"address": "acme-web-ai-timeout", "flow": "ai-timeout", "prompts": PROMPTS}
    endpoint["spec"] = {**template["spec"], **spec}
    path = folder / "endpoint.yaml"
    path.write_text(yaml.safe_dump(endpoint, sort_keys=False))
    assert ccctl(["apply", "-f", str(path), "--nats-url", e2e_region.nats_url]) == 0


async def test_an_ai_step_that_times_out_takes_the_error_branch_and_the_customer_reaches_an_agent(
    e2e_region: RunningRegion, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CC_AUTH_SECRET", e2e_region.secret)
    # Far less than one mesh round trip: the AI service cannot answer in time.
    code, printed = await asyncio.to_thread(publish, e2e_region, tmp_path, "0.0001")
    assert code == 0, printed
    await asyncio.to_thread(apply_endpoint, e2e_region, tmp_path)

    # Bad flows are refused naming the field; the published version stays live.
    for timeout, task in (("0", "intent"), ("3", "horoscope")):
        code, printed = await asyncio.to_thread(publish, e2e_region, tmp_path, timeout, task)
        assert code != 0
        assert ("timeoutSeconds" if timeout == "0" else "task") in printed, printed

    async with e2e_region.http() as http:
        alice = await e2e_region.agent(http, "alice")
        customer = await e2e_region.chat(http, endpoint="acme-webchat-ai-timeout", visitor="ai-late-1")
        await customer.send(type="message", id="m1", text="Where is my order? It has not arrived.")
        told = await customer.expect("message", seconds=30, **BOT)
        assert told["text"] == PROMPTS["ai-fallback"]
        contact = str(told["contactId"])
        offer = await alice.expect("offer", seconds=60, contactId=contact)
        assert (offer["queue"], offer["channel"]) == ("eu-support", "webchat")

        async with e2e_region.connect() as nc:
            routing = e2e_region.stub(nc, routing_pb2_grpc.RoutingServiceStub, e2e_region.token("admin"))
            journey = (
                await routing.GetJourney(routing_pb2.GetJourneyRequest(tenant_id="acme", journey_id=contact))
            ).journey
    assert list(journey.path)[:2] == ["ask-intent", "fallback"]
    assert [(e.node, e.error) for e in journey.errors] == [
        ("ask-intent", "no time left to ask the AI service (AnalyzeMessage)")
    ]
    # The customer's words are kept: the agent's conversation holds the message.
    kinds = [e.WhichOneof("payload") for e in await e2e_region.contact_events(contact)]
    assert "message_received" in kinds and "contact_queued" in kinds
