"""What a re-analysed contact yields, how it travels as an event and lands in the analytics
store's ingest, and the command line's slices and bar."""

from __future__ import annotations

import argparse
import io
from typing import Any

import grpc
import pytest

from ai.adapters.batch_contacts import ExportedContacts
from ai.adapters.batch_store import reanalysed_event
from ai.domain.batch import BatchError, MessageInsight, batch_job, contact_tags, reanalysis
from ccctl.commands import CommandError
from ccctl.commands.ai_batch import progress_bar, request_of, run_job
from ccmesh.status import RpcError
from contactcenter.ai.v1 import ai_pb2
from integration.adapters.analytics_feed import _analytics_item
from integration.domain.analytics_reanalysis import ContactReanalysis
from integration.service_layer.analytics_ingest import AnalyticsIngest
from tests.unit.analytics.analytics_fakes import MemoryAnalyticsStore


def insight(
    intent: str, confidence: float, sentiment: float, *, out_of_scope: bool = False
) -> MessageInsight:
    return MessageInsight(
        redacted_text="[card_number] charged twice",
        intent=intent,
        intent_confidence=confidence,
        out_of_scope=out_of_scope,
        intent_model_version="v7",
        language="en",
        sentiment=sentiment,
        escalation_score=0.6,
        entity_kinds=("card_number",),
    )


FOUND = [
    insight("greeting", 0.9, 0.0, out_of_scope=True),
    insight("refund", 0.7, -0.8),
    insight("other", 0.95, -0.4),
]


def test_the_first_in_scope_message_names_the_intent_and_the_mean_sentiment_the_mood() -> None:
    result = reanalysis(
        batch_job("acme", "j", "2026-12-01", "2026-12-02", "UTC", []), "c1", "b", FOUND, "gist"
    )
    assert (result.intent, result.intent_confidence, result.intent_model_version) == ("refund", 0.7, "v7")
    assert result.sentiment == pytest.approx(-0.4)
    assert result.tags == ("refund", "negative", "escalation", "pii:card_number")
    assert result.redacted_kinds == ("card_number",) and result.summary == "gist" and result.messages == 3


def test_only_the_chosen_steps_fill_their_fields() -> None:
    job = batch_job("acme", "j", "2026-12-01", "2026-12-02", "UTC", ["summarise"])
    result = reanalysis(job, "c1", "b", FOUND, "gist")
    assert (
        result.summary == "gist" and result.intent == "" and result.tags == () and result.redacted_kinds == ()
    )
    empty = reanalysis(job, "c2", "b", [], "")
    assert empty.messages == 0 and empty.summary == ""


def test_tags_by_thresholds() -> None:
    assert contact_tags("", 0.5, 0.0, []) == ("positive",)
    assert contact_tags("billing", 0.0, 0.49, ["phone", "email", "phone"]) == (
        "billing",
        "pii:email",
        "pii:phone",
    )


async def test_a_result_travels_as_an_event_into_the_store_once_by_its_stable_id() -> None:
    job = batch_job("acme", "j9", "2026-12-01", "2026-12-02", "UTC", [])
    result = reanalysis(job, "c1", "brand-a", FOUND, "Customer: [card_number] charged twice.")
    event = reanalysed_event(result, "eu")
    again = reanalysed_event(reanalysis(job, "c1", "brand-a", FOUND, "other words"), "eu")
    assert event.event_id == again.event_id == result.event_id
    assert event.contact_id == "c1" and event.region == "eu" and event.source == "ai-batch"
    row = _analytics_item(event)
    assert isinstance(row, ContactReanalysis)
    assert (row.tenant_id, row.job_id, row.intent, row.tags) == (
        "acme",
        "j9",
        "refund",
        "refund,negative,escalation,pii:card_number",
    )
    store = MemoryAnalyticsStore()
    ingest = AnalyticsIngest(store)
    assert await ingest.ingest([row]) == 0
    assert await ingest.ingest([row, row]) == 0  # redelivered: kept once
    assert store.reanalyses == [row]


def test_the_command_names_a_bad_slice_and_passes_the_steps() -> None:
    options = argparse.Namespace(
        tenant="acme",
        job="",
        start="2026-12-01",
        end="2026-12-02",
        time_zone="UTC",
        steps="tag, redact",
        slice=0,
    )
    with pytest.raises(CommandError, match="--slice"):
        request_of(options)
    options.slice = 5
    request = request_of(options)
    assert list(request.steps) == ["tag", "redact"] and request.max_contacts == 5


class SlicingStub:
    def __init__(self, total: int, per_call: int) -> None:
        self.total, self.per_call, self.processed = total, per_call, 0
        self.job_ids: list[str] = []

    async def ReanalyseContacts(self, request: ai_pb2.ReanalyseContactsRequest, **_: Any) -> Any:
        self.job_ids.append(request.job_id)
        self.processed = min(self.total, self.processed + self.per_call)
        return ai_pb2.ReanalyseContactsResponse(
            job_id="job-abc", processed=self.processed, total=self.total, done=self.processed == self.total
        )


async def test_the_command_asks_for_slices_until_done_and_draws_the_bar() -> None:
    stub, out = SlicingStub(5, 2), io.StringIO()
    reply = await run_job(stub, ai_pb2.ReanalyseContactsRequest(tenant_id="acme"), out)
    assert reply.processed == 5 and stub.job_ids == ["", "job-abc", "job-abc"]
    assert out.getvalue().endswith("] 5/5 100%\n") and "2/5 40%" in out.getvalue()
    assert progress_bar(0, 0).endswith("0/0 100%")


class RefusingExport:
    def __init__(self, error: RpcError) -> None:
        self.error = error

    async def ExportContacts(self, request: Any, **_: Any) -> Any:
        raise self.error


@pytest.mark.parametrize(
    ("message", "named", "said"),
    [
        ("end: must be after start ('a' <= 'b')", "end", "end: must be after start ('a' <= 'b')"),
        ("time_zone: unknown 'Mars/Base'", "time_zone", "time_zone: unknown 'Mars/Base'"),
        ("something odd", "period", "period: something odd"),
    ],
)
async def test_a_period_the_store_refuses_is_named_as_it_named_it(
    message: str, named: str, said: str
) -> None:
    contacts = ExportedContacts.__new__(ExportedContacts)
    contacts._stub = RefusingExport(RpcError(grpc.StatusCode.INVALID_ARGUMENT, message))
    with pytest.raises(BatchError) as caught:
        await contacts.page("acme", "b", "a", "UTC", "", 10)
    assert caught.value.field == named and str(caught.value) == said
    contacts._stub = RefusingExport(RpcError(grpc.StatusCode.PERMISSION_DENIED, "role agent may not export"))
    with pytest.raises(RpcError):  # not a parameter: the caller's own refusal, passed on
        await contacts.page("acme", "a", "b", "UTC", "", 10)


async def test_the_command_asks_again_when_another_call_moved_the_job_on() -> None:
    stub = SlicingStub(2, 2)
    answer = stub.ReanalyseContacts
    refusals = [RpcError(grpc.StatusCode.ABORTED, "job j was moved on by another call meanwhile")]

    async def once_refused(request: ai_pb2.ReanalyseContactsRequest, **kwargs: Any) -> Any:
        if refusals:
            raise refusals.pop()
        return await answer(request, **kwargs)

    stub.ReanalyseContacts = once_refused  # type: ignore[method-assign]
    reply = await run_job(stub, ai_pb2.ReanalyseContactsRequest(tenant_id="acme"), None, retry_pause=0.0)
    assert reply.done and stub.job_ids == [""]
    stub.ReanalyseContacts = answer  # type: ignore[method-assign]
    refusals.append(RpcError(grpc.StatusCode.PERMISSION_DENIED, "role agent"))
    stub.ReanalyseContacts = once_refused  # type: ignore[method-assign]
    with pytest.raises(RpcError, match="PERMISSION_DENIED"):
        await run_job(stub, ai_pb2.ReanalyseContactsRequest(tenant_id="acme"), None, retry_pause=0.0)
