"""A data class sharing the event stream may expire sooner, by a per-message TTL: the setting is
refused when it is not shorter than the stream's age or names no such class, the publishers add
`Nats-TTL` only to the events of that class once the region's policy is applied, and the report
names the rule and its setting."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import ValidationError

from ccmesh import naming, retention_ttl
from ccmesh.configplane.retention import RetentionSettings
from ccmesh.retention import DEFAULT_POLICY, Enforcement, RetentionError, RetentionPolicy, event_ttls
from ccmesh.retention_report import report_rows

REGION = "eu"


@pytest.fixture
def applied() -> Iterator[RetentionPolicy]:
    policy = RetentionSettings.model_validate(
        {"dataClasses": {"transcripts": {"maxAgeSeconds": 3600}}}
    ).policy()
    retention_ttl.apply(REGION, policy)
    yield policy
    retention_ttl.apply(REGION, DEFAULT_POLICY)


def test_a_class_ttl_not_shorter_than_its_stream_is_refused_naming_both_fields() -> None:
    with pytest.raises(
        ValidationError,
        match=r"dataClasses\.transcripts\.maxAgeSeconds: 60 is not shorter "
        r"than retention\.events\.maxAgeSeconds \(60\)",
    ):
        RetentionSettings.model_validate(
            {"events": {"maxAgeSeconds": 60}, "dataClasses": {"transcripts": {"maxAgeSeconds": 60}}}
        )
    with pytest.raises(ValidationError, match=r"dataClasses\.recordings\s+Extra inputs"):
        RetentionSettings.model_validate({"dataClasses": {"recordings": {"maxAgeSeconds": 60}}})
    with pytest.raises(ValidationError, match="greater than or equal to 1"):
        RetentionSettings.model_validate({"dataClasses": {"messages": {"maxAgeSeconds": 0}}})
    with pytest.raises(RetentionError, match="only a class that shares a stream"):
        RetentionPolicy(message_ttls={"profiles": 60})


def test_only_the_events_of_the_class_get_a_ttl(applied: RetentionPolicy) -> None:
    assert event_ttls(applied) == {"transcript_segment": 3600}
    assert retention_ttl.ttl_of(REGION, "transcript_segment") == 3600
    assert retention_ttl.ttl_of(REGION, "message_received") == 0
    assert retention_ttl.ttl_of("us", "transcript_segment") == 0
    transcript = naming.event_subject(REGION, "acme", "transcript_segment", "c1")
    created = naming.event_subject(REGION, "acme", "contact_created", "c1")
    assert retention_ttl.event_headers(transcript, "e1") == {"Nats-Msg-Id": "e1", "Nats-TTL": "3600"}
    assert retention_ttl.event_headers(created, "e2") == {"Nats-Msg-Id": "e2"}
    assert retention_ttl.event_headers("not.an.event", "e3") == {"Nats-Msg-Id": "e3"}
    retention_ttl.apply(REGION, DEFAULT_POLICY)
    assert retention_ttl.event_headers(transcript, "e1") == {"Nats-Msg-Id": "e1"}


def test_the_report_names_the_per_message_rule_and_its_setting(applied: RetentionPolicy) -> None:
    rows = {row.name: row for row in report_rows(applied, REGION, {})}
    transcripts, messages = rows["transcripts"], rows["messages"]
    assert (transcripts.enforcement, transcripts.kept_seconds) == (Enforcement.MESSAGE_TTL, 3600)
    assert transcripts.setting == "spec.retention.dataClasses.transcripts.maxAgeSeconds"
    assert messages.enforcement is Enforcement.MAX_AGE
    assert messages.setting == "spec.retention.events.maxAgeSeconds"
