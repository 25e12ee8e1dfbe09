"""Journeys in the routing service: publish with validation, aliases, durable state, hand-off events,
and a routing process killed mid-journey that resumes where it stopped."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import orjson
import pytest
from _platform import SECRET, Platform, eventually
from nats.aio.client import Client as NATS

from ccflow.loader import read_sources
from ccmesh import naming, stream_read
from ccmesh.auth import TokenAuthority
from ccmesh.rpc_client import MeshChannel, mesh_stub
from ccmesh.status import RpcError
from contactcenter.events.v1 import events_pb2
from contactcenter.routing.v1 import routing_pb2
from contactcenter.routing.v1.routing_pb2_grpc import RoutingServiceStub

pytestmark = pytest.mark.timeout(90)

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "flows" / "support"
REGION = "eu"


def example_files() -> list[routing_pb2.FlowSourceFile]:
    root = EXAMPLES.parent
    return [
        routing_pb2.FlowSourceFile(name=str(Path(name).relative_to(root)), content=text)
        for name, text in read_sources([EXAMPLES])
    ]


def with_change(
    files: list[routing_pb2.FlowSourceFile], name: str, old: str, new: str
) -> list[routing_pb2.FlowSourceFile]:
    changed = []
    for f in files:
        if f.name == name:
            assert old in f.content
            f = routing_pb2.FlowSourceFile(name=f.name, content=f.content.replace(old, new, 1))
        changed.append(f)
    return changed


async def publish_live(stub: object, files: list[routing_pb2.FlowSourceFile]) -> int:
    reply = await stub.PublishFlow(
        routing_pb2.PublishFlowRequest(tenant_id="acme", flow="support", files=files)
    )  # type: ignore[attr-defined]
    await stub.SetFlowAlias(  # type: ignore[attr-defined]
        routing_pb2.SetFlowAliasRequest(tenant_id="acme", flow="support", alias="live", version=reply.version)
    )
    return int(reply.version)


async def queued_events(nc: NATS) -> list[events_pb2.Event]:
    return [
        events_pb2.Event.FromString(m.data)
        async for m in stream_read.stored(
            nc.jetstream(), f"ccevt.{REGION}.*.contact_queued.*", stream=naming.events_stream(REGION).name
        )
    ]


async def test_bad_publish_is_rejected_naming_file_and_node_and_the_live_version_stays(
    platform: Platform,
) -> None:
    await platform.start("routing")
    admin = platform.stub(RoutingServiceStub, tenant="acme", role="admin")
    files = example_files()
    assert await publish_live(admin, files) == 1
    bad = with_change(
        files, "support/overlays/latam.yaml", "queue: latam-overflow\n", "queue: latam-overfow\n"
    )
    with pytest.raises(RpcError) as caught:
        await admin.PublishFlow(routing_pb2.PublishFlowRequest(tenant_id="acme", flow="support", files=bad))
    assert caught.value.code is grpc.StatusCode.INVALID_ARGUMENT
    assert (
        "support/overlays/latam.yaml: node 'latam-overflow': unknown queue 'latam-overfow'"
        in caught.value.message
    )
    cel = with_change(files, "support/support.yaml", 'intent == "fraud"', 'intent == "fraud" &&')
    with pytest.raises(RpcError, match=r"support/support.yaml: node 'route-intent': branches\[0\].when: CEL"):
        await admin.PublishFlow(routing_pb2.PublishFlowRequest(tenant_id="acme", flow="support", files=cel))
    live = await admin.GetFlowVersion(
        routing_pb2.GetFlowVersionRequest(tenant_id="acme", flow="support", alias="live")
    )
    assert (live.version, live.latest) == (1, 1)
    # Identical sources make no new version; a real change makes version 2.
    same = await admin.PublishFlow(
        routing_pb2.PublishFlowRequest(tenant_id="acme", flow="support", files=files)
    )
    assert (same.version, same.created) == (1, False)
    changed = with_change(files, "support/support.yaml", "priority: 90", "priority: 95")
    second = await admin.PublishFlow(
        routing_pb2.PublishFlowRequest(tenant_id="acme", flow="support", files=changed)
    )
    assert (second.version, second.created) == (2, True)
    with pytest.raises(RpcError) as no_version:
        await admin.SetFlowAlias(
            routing_pb2.SetFlowAliasRequest(tenant_id="acme", flow="support", alias="live", version=7)
        )
    assert (
        no_version.value.code is grpc.StatusCode.INVALID_ARGUMENT
        and "no version 7" in no_version.value.message
    )


async def test_access_to_journey_methods_is_checked(platform: Platform) -> None:
    await platform.start("routing")
    files = example_files()
    agent = platform.stub(RoutingServiceStub, tenant="acme", role="agent")
    with pytest.raises(RpcError) as denied:
        await agent.PublishFlow(routing_pb2.PublishFlowRequest(tenant_id="acme", flow="support", files=files))
    assert denied.value.code is grpc.StatusCode.PERMISSION_DENIED
    other = platform.stub(RoutingServiceStub, tenant="globex", role="admin")
    with pytest.raises(RpcError) as cross:
        await other.GetJourney(routing_pb2.GetJourneyRequest(tenant_id="acme", journey_id="c-1"))
    assert cross.value.code is grpc.StatusCode.PERMISSION_DENIED


async def test_journey_runs_to_a_queue_hand_off_and_publishes_contact_queued(platform: Platform) -> None:
    await platform.start("routing", "ai")
    admin = platform.stub(RoutingServiceStub, tenant="acme", role="admin")
    await publish_live(admin, example_files())
    started = await admin.StartJourney(
        routing_pb2.StartJourneyRequest(
            tenant_id="acme",
            contact_id="chat-1",
            flow="support",
            channel="chat",
            brand="acme-retail",
            text="Hola, alguien ha usado mi tarjeta sin permiso y quiero bloquearla ahora mismo",
        )
    )
    # The AI steps ran in routing against the AI service: the tenant has no intent model, so the
    # intent is out of scope and the journey asks its menu.
    assert (started.journey.waiting_for, started.journey.node) == ("input", "menu")
    assert started.journey.region == REGION
    assert {"detect-intent", "score-sentiment", "route-intent"} <= set(started.journey.path)
    assert [a.kind for a in started.actions] == ["send_prompt", "await_input"]
    request = routing_pb2.ContinueJourneyRequest
    step = await admin.ContinueJourney(request(tenant_id="acme", journey_id="chat-1", input="9"))
    assert step.journey.status == "ended"
    assert step.journey.hand_off.queue == "bank-fraud" and step.journey.hand_off.priority == 90
    assert [a.kind for a in step.actions] == ["hand_off"]
    with pytest.raises(RpcError) as ended:
        await admin.ContinueJourney(
            routing_pb2.ContinueJourneyRequest(tenant_id="acme", journey_id="chat-1", input="1")
        )
    assert ended.value.code is grpc.StatusCode.FAILED_PRECONDITION
    events = await eventually(lambda: queued_events(platform.nc))
    assert [(e.contact_id, e.contact_queued.queue, e.contact_queued.priority, e.source) for e in events] == [
        ("chat-1", "bank-fraud", 90, "routing")
    ]
    # What the journey learned travels with the hand-off.
    assert events[0].contact_queued.language == "es"
    assert events[0].contact_queued.intent == "out_of_scope"


def _value(value: object) -> object:
    from google.protobuf import struct_pb2

    message = struct_pb2.Value()
    if isinstance(value, str):
        message.string_value = value
    else:
        message.number_value = float(value)  # type: ignore[arg-type]
    return message


# -- the routing process killed in the middle of a journey ------------------------------------


class RoutingProcess:
    def __init__(self, nats_url: str, log: Path) -> None:
        self.nats_url = nats_url
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "CC_REGION": REGION,
            "CC_NATS_URL": self.nats_url,
            "CC_AUTH_SECRET": SECRET,
            "CC_GRPC_PORT": "-1",
            "CC_INSTANCE_NAME": "routing-killable",
        }
        with self.log.open("ab") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "routing"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=err,
                stdin=subprocess.DEVNULL,
            )
        assert self.process.stdout is not None
        for line in self.process.stdout:  # the ready line; ends (b"") if the process dies first
            if line.startswith(b"{") and orjson.loads(line).get("ready") == "routing":
                return
        raise AssertionError(
            f"routing exited before it was ready; see {self.log}: {self.log.read_text()[-2000:]}"
        )

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def routing_process(nats_url: str, tmp_path: Path) -> Iterator[RoutingProcess]:
    process = RoutingProcess(nats_url, tmp_path / "routing.log")
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
async def admin(nc: NATS) -> AsyncIterator[object]:
    token = TokenAuthority(SECRET).mint("acme", "admin", "test", 300)
    yield mesh_stub(RoutingServiceStub, MeshChannel(nc, REGION, token=token, default_timeout=10))


async def test_killed_routing_instance_resumes_the_journey_at_the_same_node(
    routing_process: RoutingProcess, admin: object, nc: NATS
) -> None:
    stub = admin
    await asyncio.to_thread(routing_process.start)
    await publish_live(stub, example_files())
    started = await stub.StartJourney(  # type: ignore[attr-defined]
        routing_pb2.StartJourneyRequest(
            tenant_id="acme",
            contact_id="voice-42",
            flow="support",
            channel="voice",
            brand="acme-bank",
            attributes=_struct({"order": "A-77"}),
        )
    )
    request = routing_pb2.ContinueJourneyRequest
    # A voice call has no text to analyse: the intent step fails at once and the menu asks.
    assert (started.journey.node, started.journey.version) == ("menu", 1)
    # The CRM lookups have no system behind them here: each waits its 2 s and the journey goes on.
    waiting = await stub.ContinueJourney(request(tenant_id="acme", journey_id="voice-42", input="2"))  # type: ignore[attr-defined]
    before = waiting.journey
    assert (before.status, before.waiting_for, before.node) == ("waiting", "input", "bank-pin")

    await asyncio.to_thread(routing_process.kill)
    with pytest.raises(RpcError) as down:
        await stub.GetJourney(routing_pb2.GetJourneyRequest(tenant_id="acme", journey_id="voice-42"))  # type: ignore[attr-defined]
    assert down.value.code is grpc.StatusCode.UNAVAILABLE
    await asyncio.to_thread(routing_process.start)

    after = (
        await stub.GetJourney(routing_pb2.GetJourneyRequest(tenant_id="acme", journey_id="voice-42"))
    ).journey  # type: ignore[attr-defined]
    assert after == before
    assert after.attributes["order"] == "A-77" and after.attributes["choice"] == "2"
    pin = await stub.ContinueJourney(request(tenant_id="acme", journey_id="voice-42", input="4321"))  # type: ignore[attr-defined]
    # This routing instance serves eu: the eu overlay offers self-service first.
    assert (pin.journey.status, pin.journey.node) == ("waiting", "eu-offer")
    done = await stub.ContinueJourney(request(tenant_id="acme", journey_id="voice-42", input="no"))  # type: ignore[attr-defined]
    assert done.journey.status == "ended"
    assert (done.journey.hand_off.queue, done.journey.hand_off.priority) == ("eu-support", 15)
    assert done.journey.hand_off.attributes["verified"] is True
    assert done.journey.hand_off.attributes["order"] == "A-77"
    events = await eventually(lambda: queued_events(nc))
    assert [(e.contact_id, e.contact_queued.queue) for e in events] == [("voice-42", "eu-support")]


def _struct(value: dict[str, object]) -> object:
    from google.protobuf import struct_pb2

    message = struct_pb2.Struct()
    message.update(value)
    return message


# -- ccctl flow publish / alias / diff against the running routing service ---------------------


async def test_ccctl_publishes_moves_aliases_and_diffs_published_versions(
    platform: Platform,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    from ccctl.main import main

    await platform.start("routing")
    monkeypatch.setenv("CC_AUTH_SECRET", SECRET)
    remote = ["--tenant", "acme", "--nats-url", platform.nats_url, "--mesh-region", REGION]

    def ccctl(*argv: str) -> int:
        return main(list(argv))

    assert await asyncio.to_thread(ccctl, "flow", "publish", str(EXAMPLES), "--alias", "live", *remote) == 0
    changed = tmp_path / "support"
    for source in EXAMPLES.rglob("*.yaml"):
        target = changed / source.relative_to(EXAMPLES)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(source.read_text())
    (changed / "support.yaml").write_text(
        (changed / "support.yaml").read_text().replace("priority: 90", "priority: 95")
    )
    assert await asyncio.to_thread(ccctl, "flow", "publish", str(changed), *remote) == 0
    platform.capsys.readouterr()
    argv = (
        "flow",
        "alias",
        "live",
        "1",
        "--flow",
        "support",
        "--canary-version",
        "2",
        "--canary-percent",
        "10",
    )
    assert await asyncio.to_thread(ccctl, *argv, *remote) == 0
    assert "alias live -> version 1 (canary v2 at 10%)" in platform.capsys.readouterr().out
    assert await asyncio.to_thread(ccctl, "flow", "diff", "v1", "v2", "--flow", "support", *remote) == 0
    out = platform.capsys.readouterr().out.splitlines()
    summary = out[: out.index("# rendered YAML:")]
    assert [line for line in summary if not line.startswith("#")] == [
        "~ node fraud-queue: priority: 90 -> 95"
    ]
    # A bad publish fails with the problem on stderr and leaves the alias alone.
    (changed / "support.yaml").write_text(
        (changed / "support.yaml").read_text().replace("next: to-queue", "next: nowhere")
    )
    assert await asyncio.to_thread(ccctl, "flow", "publish", str(changed), *remote) == 1
    assert "node 'set-priority': refers to unknown node 'nowhere'" in platform.capsys.readouterr().err
    admin = platform.stub(RoutingServiceStub, tenant="acme", role="admin")
    live = await admin.GetFlowVersion(
        routing_pb2.GetFlowVersionRequest(tenant_id="acme", flow="support", alias="live")
    )
    assert (live.version, live.latest) == (1, 2)
    assert [(a.alias, a.version, a.canary_version, a.canary_percent) for a in live.aliases] == [
        ("live", 1, 2, 10.0)
    ]


async def test_a_run_time_policy_reaches_running_journeys_that_match_it(
    platform: Platform,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    from ccctl.main import main

    await platform.start("routing")
    monkeypatch.setenv("CC_AUTH_SECRET", SECRET)
    admin = platform.stub(RoutingServiceStub, tenant="acme", role="admin")
    await publish_live(admin, example_files())
    start = routing_pb2.StartJourneyRequest
    for contact, channel in (("voice-1", "voice"), ("chat-1", "chat")):
        started = await admin.StartJourney(
            start(tenant_id="acme", contact_id=contact, flow="support", channel=channel)
        )
        assert started.journey.waiting_for == "input"  # no AI service here: the menu asks
    policy = tmp_path / "recording.yaml"
    policy.write_text(
        "apiVersion: contactcenter.dev/v1alpha1\nkind: FlowPolicy\nmetadata: {name: recording}\n"
        'spec:\n  when: channel == "voice"\n  nodes:\n'
        "    - {id: recording-message, kind: message, prompt: recording-notice, next: $continue}\n"
    )
    remote = ["--tenant", "acme", "--nats-url", platform.nats_url, "--mesh-region", REGION]
    assert await asyncio.to_thread(main, ["flow", "policy", "apply", str(policy), *remote]) == 0
    request = routing_pb2.ContinueJourneyRequest
    voice = await admin.ContinueJourney(request(tenant_id="acme", journey_id="voice-1", input="9"))
    chat = await admin.ContinueJourney(request(tenant_id="acme", journey_id="chat-1", input="9"))
    assert ("send_prompt", "recording-notice") in [(a.kind, a.name) for a in voice.actions]
    assert "policy:recording/recording-message" in voice.journey.path
    assert "recording-notice" not in [a.name for a in chat.actions]
    # A policy that does not compile is refused, naming the file; the one in force stays.
    policy.write_text(policy.read_text().replace('channel == "voice"', 'channel ==="voice"'))
    assert await asyncio.to_thread(main, ["flow", "policy", "apply", str(policy), *remote]) == 1
    assert f"{policy}: when: CEL expression" in platform.capsys.readouterr().err
    assert await asyncio.to_thread(main, ["flow", "policy", "remove", "recording", *remote]) == 0
    assert "policy recording removed; in force: none" in platform.capsys.readouterr().out


CALLBACK_FLOW = """
apiVersion: contactcenter.dev/v1alpha1
kind: FlowCatalog
metadata: {name: mini}
spec: {queues: [voice-team], prompts: [hello]}
---
apiVersion: contactcenter.dev/v1alpha1
kind: Flow
metadata: {name: callme}
spec:
  start: hello
  nodes:
    - {id: hello, kind: message, prompt: hello, next: offer}
    - {id: offer, kind: callback, queue: voice-team, channel: voice, next: on-voice}
    - id: on-voice
      kind: condition
      branches: [{when: 'channel == "voice"', next: team}]
      default: bye
    - {id: team, kind: queue, queue: voice-team, priority: 7}
    - {id: bye, kind: end}
"""


async def test_chat_to_voice_callback_continues_the_same_journey_and_versions_stay_pinned(
    platform: Platform,
) -> None:
    await platform.start("routing")
    admin = platform.stub(RoutingServiceStub, tenant="acme", role="admin")
    files = [routing_pb2.FlowSourceFile(name="callme.yaml", content=CALLBACK_FLOW)]
    first = await admin.PublishFlow(
        routing_pb2.PublishFlowRequest(tenant_id="acme", flow="callme", files=files)
    )
    files_v2 = [
        routing_pb2.FlowSourceFile(
            name="callme.yaml", content=CALLBACK_FLOW.replace("priority: 7", "priority: 9")
        )
    ]
    second = await admin.PublishFlow(
        routing_pb2.PublishFlowRequest(tenant_id="acme", flow="callme", files=files_v2)
    )
    alias = routing_pb2.SetFlowAliasRequest
    # Canary at 100%: every new contact gets version 2.
    await admin.SetFlowAlias(
        alias(
            tenant_id="acme",
            flow="callme",
            alias="live",
            version=first.version,
            canary_version=2,
            canary_percent=100,
        )
    )
    attributes = _struct({"basket": "B-9"})
    start = routing_pb2.StartJourneyRequest
    chat = await admin.StartJourney(
        start(tenant_id="acme", contact_id="chat-7", flow="callme", channel="chat", attributes=attributes)
    )
    assert (chat.journey.version, chat.journey.waiting_for) == (second.version, "callback")
    assert [(a.kind, a.name, a.channel) for a in chat.actions][-1] == (
        "schedule_callback",
        "voice-team",
        "voice",
    )
    # Rollback is moving the alias: new contacts get version 1, the running journey keeps version 2.
    await admin.SetFlowAlias(alias(tenant_id="acme", flow="callme", alias="live", version=first.version))
    other = await admin.StartJourney(
        start(tenant_id="acme", contact_id="chat-8", flow="callme", channel="chat")
    )
    assert other.journey.version == first.version
    voice = await admin.ContinueJourney(
        routing_pb2.ContinueJourneyRequest(tenant_id="acme", journey_id="chat-7", callback_channel="voice")
    )
    journey = voice.journey
    assert (journey.journey_id, journey.channel, journey.status, journey.version) == (
        "chat-7",
        "voice",
        "ended",
        2,
    )
    assert journey.hand_off.queue == "voice-team" and journey.hand_off.priority == 9
    assert journey.hand_off.attributes["basket"] == "B-9"
    assert journey.path == ["hello", "offer", "on-voice", "team"]


async def test_bad_journey_requests_are_refused_and_the_journey_is_unchanged(platform: Platform) -> None:
    await platform.start("routing")
    admin = platform.stub(RoutingServiceStub, tenant="acme", role="admin")
    await publish_live(admin, example_files())
    start = routing_pb2.StartJourneyRequest
    await admin.StartJourney(start(tenant_id="acme", contact_id="c-1", flow="support", channel="chat"))
    before = (
        await admin.GetJourney(routing_pb2.GetJourneyRequest(tenant_id="acme", journey_id="c-1"))
    ).journey
    request = routing_pb2.ContinueJourneyRequest
    cases = [
        (request(tenant_id="acme", journey_id="c-1"), grpc.StatusCode.INVALID_ARGUMENT, "event is required"),
        (
            request(tenant_id="acme", journey_id="c-1", ai_result=_value("billing")),
            grpc.StatusCode.FAILED_PRECONDITION,
            "waits for input",
        ),
        (
            request(tenant_id="acme", journey_id="c.1", input="1"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "journey id 'c.1'",
        ),
        (
            request(tenant_id="acme", journey_id="nobody", input="1"),
            grpc.StatusCode.NOT_FOUND,
            "no journey 'nobody'",
        ),
    ]
    for bad, code, named in cases:
        with pytest.raises(RpcError) as caught:
            await admin.ContinueJourney(bad)
        assert caught.value.code is code and named in caught.value.message
    with pytest.raises(RpcError) as again:
        await admin.StartJourney(start(tenant_id="acme", contact_id="c-1", flow="support", channel="chat"))
    assert again.value.code is grpc.StatusCode.FAILED_PRECONDITION and "already exists" in again.value.message
    with pytest.raises(RpcError) as unknown_flow:
        await admin.StartJourney(start(tenant_id="acme", contact_id="c-2", flow="nosuch", channel="chat"))
    assert unknown_flow.value.code is grpc.StatusCode.NOT_FOUND and "'nosuch'" in unknown_flow.value.message
    after = (
        await admin.GetJourney(routing_pb2.GetJourneyRequest(tenant_id="acme", journey_id="c-1"))
    ).journey
    assert after == before
