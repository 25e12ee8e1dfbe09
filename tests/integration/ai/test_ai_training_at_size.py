"""`ccctl ai train-intents` at real size against a running ai service and a real nats-server:
100,000 examples through the training object store, trained once in a worker process with
progress and a validation report; a bad label refused by the CLI naming its line."""

from __future__ import annotations

import asyncio
import logging
import random
from pathlib import Path

import pytest
from _platform import REGION, SECRET, Platform, eventually
from nats.js.errors import NotFoundError

from ccctl.main import main
from ccmesh import naming
from contactcenter.ai.v1 import ai_pb2
from contactcenter.ai.v1.ai_pb2_grpc import AiServiceStub

# Training 100,000 examples takes minutes, and more on a shared, busy 2-core machine.
pytestmark = pytest.mark.timeout(1800)

INTENTS = 20
PER_INTENT = 5000
FILLER = [
    "please",
    "i",
    "want",
    "to",
    "my",
    "the",
    "a",
    "for",
    "about",
    "can",
    "you",
    "help",
    "me",
    "with",
    "need",
    "some",
    "info",
    "on",
    "today",
    "now",
    "hello",
    "hi",
    "could",
    "would",
    "like",
    "know",
    "tell",
    "show",
    "check",
    "again",
    "quickly",
    "urgent",
    "thanks",
    "kindly",
]


def synthetic_training_set(path: Path) -> dict[str, list[str]]:
    """INTENTS intents of PER_INTENT examples: shared filler words around two of the intent's
    own four keywords, so intents are learnable but every example differs."""
    rng = random.Random(7)
    keywords = {f"topic_{i:02d}": [f"w{i}x{k}" for k in range(4)] for i in range(INTENTS)}
    examples: dict[str, list[str]] = {}
    lines = ["intents:"]
    for intent, words in keywords.items():
        texts = []
        for n in range(PER_INTENT):
            chosen = rng.sample(FILLER, 5) + rng.sample(words, 2)
            rng.shuffle(chosen)
            texts.append(" ".join(chosen) + f" {n}")
        examples[intent] = texts
        lines.append(f"  {intent}:")
        lines.extend(f"    - {t}" for t in texts)
    path.write_text("\n".join(lines) + "\n")
    return examples


async def ccctl(*args: str) -> int:
    return await asyncio.to_thread(main, list(args))


async def object_names(platform: Platform) -> list[str]:
    store = await platform.nc.jetstream().object_store(naming.ai_training_bucket(REGION))
    try:
        return [info.name for info in await store.list(ignore_deletes=True)]
    except NotFoundError:  # nats-py lists an empty bucket as "not found"
        return []


def swaps(caplog: pytest.LogCaptureFixture, tenant: str) -> int:
    return sum(getattr(r, "intent_model_swap", None) == tenant for r in caplog.records)


def seen_in_effect(caplog: pytest.LogCaptureFixture, tenant: str) -> bool:
    return any(getattr(r, "intent_model_current", None) == tenant for r in caplog.records)


async def test_a_100000_example_set_trains_once_through_ccctl_with_progress_and_a_report(
    platform: Platform,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="ai.service_layer.intents")
    monkeypatch.setenv("CC_AUTH_SECRET", SECRET)
    # TF-IDF models: embedding 100,000 examples would take most of an hour on this machine.
    await platform.start("ai", settings={"ai": {"sentence_encoder": False}})
    training_file = tmp_path / "big.yaml"
    examples = synthetic_training_set(training_file)
    assert training_file.stat().st_size > 4 * 512 * 1024  # far more than one request may carry

    code = await ccctl(
        "ai", "train-intents", "acme", str(training_file), "--nats-url", platform.nats_url, "--region", REGION
    )
    out, err = capsys.readouterr()
    print(out)  # the report, for whoever runs this with -s
    assert code == 0, err
    assert f"uploaded 100000 examples of {INTENTS} intents" in out
    assert f"acme: {INTENTS} intents, 100000 examples" in out
    # Progress arrived while it trained, stage by stage.
    for stage in ("training: building features", "training: validating", "training: training the model"):
        assert stage in out
    assert "validation on" in out and "out-of-scope recall" in out
    assert "peak memory" in out

    # Exactly one training and one swap for the request: the replica's own watcher saw the
    # stored model and found it already in effect.
    async def watcher_saw_it() -> bool:
        return seen_in_effect(caplog, "acme")

    await eventually(watcher_saw_it)
    assert swaps(caplog, "acme") == 1

    ai = platform.stub(AiServiceStub, tenant="acme", role="agent")
    probe = examples["topic_07"][3]
    reply = await ai.AnalyzeMessage(ai_pb2.AnalyzeMessageRequest(tenant_id="acme", text=probe))
    assert reply.insight.intent == "topic_07"
    described = await ai.GetIntentModel(ai_pb2.GetIntentModelRequest(tenant_id="acme"))
    assert len(described.intents) == INTENTS

    # The upload is gone once read; the trained model is what stays.
    names = await object_names(platform)
    assert not [n for n in names if n.startswith("uploads/")]
    assert [n for n in names if n.startswith("models/acme/")] == [f"models/acme/{described.version}"]


async def test_an_invalid_label_is_refused_by_the_cli_naming_its_line_before_any_upload(
    platform: Platform,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("CC_AUTH_SECRET", SECRET)
    await platform.start("ai", settings={"ai": {"sentence_encoder": False}})
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "intents:\n"
        "  order status:\n"  # blanks are normalised: accepted as order_status
        "    - where is my order\n"
        "  where is my refund?:\n"  # line 4: '?' is refused by the service too
        "    - refund please\n"
    )
    code = await ccctl("ai", "train-intents", "acme", str(bad), "--nats-url", platform.nats_url)
    assert code == 2
    err = capsys.readouterr().err
    assert f"{bad}:4: intent name 'where is my refund?' has '?'" in err
    assert await object_names(platform) == []
