"""Consent and compliance rules end to end, as a compliance officer, a caller and an agent meet
them, on the platform started as `ccctl up` does (calls stream their audio for live
transcription by default).

The officer applies a rule set with `ccctl apply`: one with an unknown field is refused naming it;
then "no transcription without consent in eu". A caller's call is answered without a media stream
(and a PolicyViolation names the rule); the agent records the caller's consent through the API and
the next call streams; the customer texts STOP RECORDING, is told by SMS that it is withdrawn, and
the call after that is answered without a stream again. The consent history holds every grant
and withdrawal, in order.

Then "no AI analysis without consent in eu": a web chat customer without that consent starts a
journey whose first step asks the AI service for the intent; the step is refused naming the
rule, the customer is told the journey's fallback and goes on (nothing stalls), and the refusal
is a PolicyViolation.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from ccsandbox.client import SandboxClient
from contactcenter.common.v1 import common_pb2
from contactcenter.identity.v1 import identity_pb2
from contactcenter.identity.v1.identity_pb2_grpc import IdentityServiceStub
from contactcenter.routing.v1 import routing_pb2, routing_pb2_grpc
from tests.e2e.harness import EXAMPLES, RunningRegion, eventually

pytestmark = pytest.mark.timeout(300)

VOICE = "acme-uk-voice"
TENANT = common_pb2.TenantRef(tenant_id="acme", brand_id="acme-retail")
RULES = {
    "version": "2026-12",
    "rules": [
        {
            "name": "eu-transcription-consent",
            "type": "consent",
            "regions": ["eu"],
            "purposes": ["transcription"],
        }
    ],
}


def _center_with(compliance: dict[str, Any], path: Path) -> Path:
    documents = list(yaml.safe_load_all((EXAMPLES / "eu.yaml").read_text()))
    for document in documents:
        if document and document.get("kind") == "ContactCenter":
            document["spec"]["compliance"] = compliance
    path.write_text(yaml.safe_dump_all(documents))
    return path


async def _call(region: RunningRegion, http: aiohttp.ClientSession, caller: str) -> str:
    """A new call from `caller`: the TwiML the gateway answers."""
    spec = region.endpoints[VOICE].spec
    assert spec.twilio is not None
    form = {
        "CallSid": "CA" + os.urandom(16).hex(),
        "AccountSid": spec.twilio.account_sid,
        "From": caller,
        "To": spec.address,
        "Direction": "inbound",
        "CallStatus": "ringing",
    }
    status, twiml = await region.twilio(http, VOICE, "voice", form)
    assert status == 200, twiml
    return twiml


async def test_transcription_needs_consent_given_and_ends_with_its_withdrawal(
    e2e_region: RunningRegion, sandbox: SandboxClient, tmp_path: Path
) -> None:
    region = e2e_region
    caller = "+4477009" + os.urandom(3).hex()[:5].translate(str.maketrans("abcdef", "123456"))
    async with region.http() as http:
        # Without rules, a call streams its audio for live transcription.
        assert "<Stream" in await _call(region, http, caller)

        refused = region.ccctl(
            "apply",
            "-f",
            str(
                _center_with(
                    {"rules": [{"name": "x", "type": "consent", "purposes": ["recording"], "regoins": []}]},
                    tmp_path / "bad.yaml",
                )
            ),
            "--nats-url",
            region.nats_url,
        )
        assert refused.returncode != 0, refused.stdout
        assert "spec.compliance.rules[0].regoins: unknown field" in refused.stderr
        applied = region.ccctl(
            "apply", "-f", str(_center_with(RULES, tmp_path / "good.yaml")), "--nats-url", region.nats_url
        )
        assert applied.returncode == 0, applied.stderr
        # The officer tries the applied rules against sample contacts.
        samples = tmp_path / "samples.yaml"
        samples.write_text(
            "samples:\n"
            "  - {name: no consent, action: transcribe, region: eu, expect: refuse}\n"
            "  - {name: consented, action: transcribe, region: eu, expect: allow,\n"
            "     consents: {transcription: true}}\n"
        )
        tried = region.ccctl("policy", "test", "--samples", str(samples), "--nats-url", region.nats_url)
        assert tried.returncode == 0, tried.stdout + tried.stderr
        assert "REFUSE by eu-transcription-consent" in tried.stdout and "2 of 2" in tried.stdout

        # Once the gateway has the rules, a call of a customer without consent does not stream.
        async def unstreamed() -> str | None:
            twiml = await _call(region, http, caller)
            return twiml if "<Stream" not in twiml else None

        twiml = await eventually(unstreamed)
        assert "<Enqueue" in twiml, "the call itself goes on: only the transcription is refused"

        async with region.connect() as nc:
            agent = region.stub(nc, IdentityServiceStub, region.token("agent", "agent-consent"))
            found = await agent.FindCustomer(
                identity_pb2.FindCustomerRequest(
                    tenant=TENANT,
                    identifiers=[common_pb2.Identifier(kind=common_pb2.IDENTIFIER_KIND_PHONE, value=caller)],
                )
            )
            customer_id = found.customer.customer_id

            async def violation_of_caller() -> Any:
                return next(
                    (
                        e
                        for e in await region.events()
                        if e.WhichOneof("payload") == "policy_violation"
                        and e.policy_violation.customer_id == customer_id
                    ),
                    None,
                )

            violation = await eventually(violation_of_caller)
            assert violation.policy_violation.rule == "eu-transcription-consent"
            assert violation.policy_violation.action == "transcribe"
            assert violation.policy_violation.rule_set_version == "2026-12"

            # The caller agrees (the agent records it); the next call streams.
            given = await agent.RecordConsent(
                identity_pb2.RecordConsentRequest(
                    tenant=TENANT,
                    customer_id=customer_id,
                    purpose="transcription",
                    channel=common_pb2.CHANNEL_KIND_VOICE,
                    policy_version="ivr-prompt-3",
                    source="agent",
                )
            )
            assert given.recorded and given.record.recorded_by == "agent-consent"
            assert "<Stream" in await _call(region, http, caller)

            # Withdrawn on another channel, as easily: an SMS saying STOP RECORDING.
            status, _ = await region.sms(http, caller, "STOP RECORDING")
            assert status == 200
            (told,) = await sandbox.wait_for(lambda m: m["kind"] == "sms" and m["to"] == caller)
            assert "consent to recording and transcription is withdrawn" in told["text"]

            async def withdrawn() -> Any:
                reply = await agent.ListConsents(
                    identity_pb2.ListConsentsRequest(tenant=TENANT, customer_id=customer_id)
                )
                return reply if reply.current.get("transcription") is False else None

            history = await eventually(withdrawn)
            assert "<Stream" not in await _call(region, http, caller)

    records = [(r.purpose, r.granted, r.source, r.channel) for r in history.records]
    assert records == [
        ("transcription", True, "agent", common_pb2.CHANNEL_KIND_VOICE),
        ("recording", False, "keyword", common_pb2.CHANNEL_KIND_SMS),
        ("transcription", False, "keyword", common_pb2.CHANNEL_KIND_SMS),
    ]
    assert history.records[0].policy_version == "ivr-prompt-3"
    assert history.records[0].at <= history.records[1].at
    changes = [
        e
        for e in await region.wait_event("consent_changed", count=3)
        if e.consent_changed.customer_id == customer_id
    ]
    assert [(e.consent_changed.purpose, e.consent_changed.granted) for e in changes] == [
        ("transcription", True),
        ("recording", False),
        ("transcription", False),
    ]


AI_RULES = {
    "version": "2026-12-ai",
    "rules": [{"name": "eu-ai-consent", "type": "consent", "regions": ["eu"], "purposes": ["ai_analysis"]}],
}
AI_PROMPTS = {
    "understood": "We understood what you need.",
    "ai-fallback": "Let us get you to a person who can help.",
}
AI_CATALOG = """\
apiVersion: contactcenter.dev/v1alpha1
kind: FlowCatalog
metadata: {name: ai-consent}
spec:
  queues: [eu-support]
  prompts: [understood, ai-fallback]
  aiComponents: [intent-classifier]
  flows: [ai-consent]
"""
AI_FLOW = """\
apiVersion: contactcenter.dev/v1alpha1
kind: Flow
metadata: {name: ai-consent}
spec:
  start: ask-intent
  nodes:
    - {id: ask-intent, kind: ai, component: intent-classifier, task: intent, timeoutSeconds: 5,
       next: understood, onFailure: fallback}
    - {id: understood, kind: message, prompt: understood, next: to-queue}
    - {id: fallback, kind: message, prompt: ai-fallback, next: to-queue}
    - {id: to-queue, kind: queue, queue: eu-support}
"""


def _journey_endpoint(folder: Path) -> Path:
    """The flow above published, and a web chat endpoint that starts it."""
    source = folder / "ai-consent-flow"
    source.mkdir()
    (source / "catalog.yaml").write_text(AI_CATALOG)
    (source / "ai-consent.yaml").write_text(AI_FLOW)
    documents = list(yaml.safe_load_all((EXAMPLES / "channels" / "eu.yaml").read_text()))
    template = next(d for d in documents if d["metadata"]["name"] == "acme-webchat-journey")
    spec = {**template["spec"], "address": "acme-web-ai-consent", "flow": "ai-consent", "prompts": AI_PROMPTS}
    endpoint = {**template, "metadata": {"name": "acme-webchat-ai-consent"}, "spec": spec}
    (folder / "endpoint.yaml").write_text(yaml.safe_dump(endpoint, sort_keys=False))
    return source


async def test_a_journeys_ai_step_without_consent_takes_its_error_branch_naming_the_rule(
    e2e_region: RunningRegion, tmp_path: Path
) -> None:
    region = e2e_region
    source = _journey_endpoint(tmp_path)
    published = region.ccctl(
        "flow", "publish", str(source), "--flow", "ai-consent", "--tenant", "acme", "--alias", "live",
        "--nats-url", region.nats_url, "--mesh-region", region.region,
    )  # fmt: skip
    assert published.returncode == 0, published.stdout + published.stderr
    for path in (tmp_path / "endpoint.yaml", _center_with(AI_RULES, tmp_path / "ai-rules.yaml")):
        applied = region.ccctl("apply", "-f", str(path), "--nats-url", region.nats_url)
        assert applied.returncode == 0, applied.stderr
    try:
        async with region.http() as http:
            visitors = iter(range(100))

            async def refused_contact() -> str | None:
                """A new customer's contact once routing has the rules (a refused AI step)."""
                customer = await region.chat(
                    http, endpoint="acme-webchat-ai-consent", visitor=f"ai-consent-{next(visitors)}"
                )
                await customer.send(type="message", id="m1", text="Where is my order? It has not arrived.")
                told = await customer.expect("message", seconds=30, **{"from": "bot"})
                # Not stalled: the customer is told the fallback and goes on to the queue.
                return str(told["contactId"]) if told["text"] == AI_PROMPTS["ai-fallback"] else None

            contact = await eventually(refused_contact)
        async with region.connect() as nc:
            routing = region.stub(nc, routing_pb2_grpc.RoutingServiceStub, region.token("admin"))
            reply = await routing.GetJourney(
                routing_pb2.GetJourneyRequest(tenant_id="acme", journey_id=contact)
            )
        journey = reply.journey
        assert list(journey.path)[:2] == ["ask-intent", "fallback"]
        ((node, error),) = [(e.node, e.error) for e in journey.errors]
        assert node == "ask-intent" and "eu-ai-consent" in error
        # The journey's step and the ai service's own analysis of the message are refused alike.
        refusals = {
            (e.policy_violation.rule, e.policy_violation.rule_set_version)
            for e in await region.wait_event("policy_violation", contact)
            if e.policy_violation.action == "analyse"
        }
        assert refusals == {("eu-ai-consent", "2026-12-ai")}
    finally:
        # Later tests of the module meet the region without these rules.
        region.ccctl(
            "apply",
            "-f",
            str(_center_with({"rules": []}, tmp_path / "none.yaml")),
            "--nats-url",
            region.nats_url,
        )
