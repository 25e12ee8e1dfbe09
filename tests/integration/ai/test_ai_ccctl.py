"""`ccctl ai train-intents`, `ccctl ai kb-load` and `ccctl kb load` against a running ai service."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from _platform import SECRET, Platform

from ccctl.main import main
from contactcenter.ai.v1 import ai_pb2
from contactcenter.ai.v1.ai_pb2_grpc import AiServiceStub

pytestmark = pytest.mark.timeout(90)
DATA = Path(__file__).resolve().parents[2] / "data/ai"


async def ccctl(*args: str) -> int:
    # ccctl runs its own event loop: give it a thread, as a separate process would have.
    return await asyncio.to_thread(main, list(args))


async def test_train_intents_and_kb_load_from_files(
    platform: Platform,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("CC_AUTH_SECRET", SECRET)
    await platform.start("ai")
    url = platform.nats_url
    assert (
        await ccctl(
            "ai",
            "train-intents",
            "acme",
            str(DATA / "intents_example.yaml"),
            "--nats-url",
            url,
            "--region",
            "eu",
        )
        == 0
    )
    assert (
        await ccctl(
            "ai", "kb-load", "acme", str(DATA / "knowledge_example.yaml"), "--nats-url", url, "--region", "eu"
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "acme: 3 intents, 15 examples" in out
    assert "3 article(s) loaded, 3 in total" in out
    # `ccctl kb load` is the same command under its own name; --replace keeps the total at 3.
    kb_file = str(DATA / "knowledge_example.yaml")
    assert await ccctl("kb", "load", "acme", kb_file, "--replace", "--nats-url", url, "--region", "eu") == 0
    assert "3 article(s) loaded, 3 in total" in capsys.readouterr().out

    ai = platform.stub(AiServiceStub, tenant="acme", role="agent")
    reply = await ai.AnalyzeMessage(
        ai_pb2.AnalyzeMessageRequest(tenant_id="acme", text="quiero un reembolso")
    )
    assert reply.insight.intent == "refund"
    suggested = await ai.SuggestReplies(
        ai_pb2.SuggestRepliesRequest(tenant_id="acme", text="how do I get a refund")
    )
    assert suggested.suggestions[0].article_id == "returns-policy"


async def test_bad_files_are_refused_before_anything_is_sent(
    platform: Platform,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("CC_AUTH_SECRET", SECRET)
    url = platform.nats_url
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("intents:\n  refund: not-a-list\n")
    assert await ccctl("ai", "train-intents", "acme", str(wrong), "--nats-url", url) == 2
    assert "intent 'refund': examples must be a list of strings" in capsys.readouterr().err
    missing = tmp_path / "absent.yaml"
    assert await ccctl("ai", "kb-load", "acme", str(missing), "--nats-url", url) == 2
    assert "cannot read" in capsys.readouterr().err
    # A well-formed file the service refuses (one intent): its message comes back, naming the problem.
    one = tmp_path / "one.yaml"
    one.write_text("intents:\n  refund: [money back]\n")
    await platform.start("ai")
    assert await ccctl("ai", "train-intents", "acme", str(one), "--nats-url", url, "--region", "eu") == 1
    assert "INVALID_ARGUMENT: need at least 2 intents" in capsys.readouterr().err
