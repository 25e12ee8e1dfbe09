"""Every data class of a region is kept by a store whose limits remove it, the report says which
rule and which ContactCenter field govern it and when its oldest record goes, and a bad
retention value in the file the report reads is refused naming the field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ccctl.commands.retention import duration_text, render_table
from ccctl.main import main
from ccmesh.retention import DATA_CLASSES, DEFAULT_POLICY, STORES, Enforcement, Limits, RetentionPolicy
from ccmesh.retention_report import StoreState, parse_server_time, report_rows, store_rows
from ccmesh.stores import stream_name

REGION = "eu"
#: The data classes a region's owner sets retention for.
CLASSES = {
    "contactEvents",
    "messages",
    "transcripts",
    "attachments",
    "recordings",
    "journeyState",
    "profiles",
    "audit",
    "accessAudit",
}


def test_every_data_class_is_kept_by_a_store_of_the_region() -> None:
    assert {data_class.key for data_class in DATA_CLASSES} == CLASSES
    region_stores = {store.key for store in STORES}
    for data_class in DATA_CLASSES:
        assert data_class.store in region_stores, data_class.key


def test_each_class_is_removed_by_the_rule_of_its_store() -> None:
    by_key = {data_class.key: data_class for data_class in DATA_CLASSES}
    policy = RetentionPolicy(
        {"events": Limits(max_age_seconds=90 * 86400), "journeys": Limits(finished_ttl_seconds=3600)}
    )
    for key in ("contactEvents", "messages", "transcripts"):
        assert by_key[key].enforcement(policy) is Enforcement.MAX_AGE
        assert by_key[key].kept_seconds(policy) == 90 * 86400
        assert by_key[key].setting(policy) == "spec.retention.events.maxAgeSeconds"
    assert by_key["journeyState"].enforcement(policy) is Enforcement.FINISHED_TTL
    assert by_key["journeyState"].kept_seconds(policy) == 3600
    assert by_key["journeyState"].setting(policy) == "spec.retention.journeys.finishedTtlSeconds"
    assert by_key["profiles"].enforcement(policy) is Enforcement.KEPT
    assert by_key["profiles"].kept_seconds(policy) == 0
    assert by_key["audit"].enforcement(DEFAULT_POLICY) is Enforcement.MAX_AGE
    assert by_key["audit"].kept_seconds(DEFAULT_POLICY) == 365 * 86400
    assert by_key["attachments"].setting(DEFAULT_POLICY) == "spec.retention.attachments.maxAgeSeconds"


def test_the_next_expiry_is_the_oldest_record_plus_its_age() -> None:
    oldest = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    events = stream_name(next(s for s in STORES if s.key == "events"), REGION)
    journeys = stream_name(next(s for s in STORES if s.key == "journeys"), REGION)
    observed = {
        events: StoreState(messages=12, bytes=4096, oldest=oldest),
        journeys: StoreState(messages=3, bytes=300, oldest=oldest),
    }
    rows = {row.name: row for row in report_rows(DEFAULT_POLICY, REGION, observed)}
    assert rows["messages"].next_expiry == oldest + timedelta(days=30)
    assert rows["messages"].state == observed[events]
    # Journey state expires per key once a journey ends: no store-wide next expiry to show.
    assert rows["journeyState"].next_expiry is None
    assert rows["journeyState"].enforcement is Enforcement.FINISHED_TTL
    # A store the server does not have yet is reported absent, not empty.
    assert rows["audit"].state is None
    assert rows["audit"].as_json()["messages"] is None

    table = render_table(list(rows.values()))
    assert table.splitlines()[0].split()[:3] == ["DATA", "CLASS", "STORE"]
    messages_line = next(line for line in table.splitlines() if line.startswith("messages"))
    assert "30d" in messages_line and "2026-03-31 12:00:00Z" in messages_line
    profiles_line = next(line for line in table.splitlines() if line.startswith("profiles"))
    assert "until erased" in profiles_line and "absent" in profiles_line
    journey_line = next(line for line in table.splitlines() if line.startswith("journeyState"))
    assert "7d after finish" in journey_line


def test_every_store_of_the_region_is_listed_with_its_rule_and_setting() -> None:
    policy = RetentionPolicy({"deadLetters": Limits(max_age_seconds=3600)})
    rows = {row.name: row for row in store_rows(policy, REGION, {})}
    assert set(rows) == {store.key for store in STORES}
    assert (rows["deadLetters"].enforcement, rows["deadLetters"].kept_seconds) == (Enforcement.MAX_AGE, 3600)
    assert rows["gateway"].setting == "spec.retention.gateway.finishedTtlSeconds"
    assert rows["acd"].enforcement is Enforcement.KEPT
    assert rows["acd"].setting == "spec.retention.acd.maxBytes"
    assert rows["integration"].store == "KV_" + next(s for s in STORES if s.key == "integration").name(REGION)


def test_durations_and_server_times_read_as_written() -> None:
    assert [duration_text(s) for s in (3, 90, 120, 7200, 86400 * 30)] == ["3s", "90s", "2m", "2h", "30d"]
    assert parse_server_time("2026-12-05T14:50:01.123456789Z") == datetime(
        2026, 12, 5, 14, 50, 1, 123456, tzinfo=UTC
    )
    assert parse_server_time("2026-12-05T16:50:01+02:00") == datetime(2026, 12, 5, 14, 50, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("retention", "field"),
    [
        ("events: {maxAgeSeconds: 0}", "spec.retention.events.maxAgeSeconds"),
        ("attachments: {maxAgeSeconds: three days}", "spec.retention.attachments.maxAgeSeconds"),
        ("identity: {maxAgeSeconds: 86400}", "spec.retention.identity.maxAgeSeconds"),
        ("journeys: {finishedTtlSeconds: -5}", "spec.retention.journeys.finishedTtlSeconds"),
        ("transcripts: {maxAgeSeconds: 60}", "spec.retention.transcripts"),
    ],
)
def test_a_bad_retention_value_is_refused_naming_the_field(
    retention: str, field: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = tmp_path / "eu.yaml"
    document.write_text(
        "apiVersion: contactcenter.dev/v1alpha1\nkind: ContactCenter\nmetadata:\n  name: eu\n"
        f"spec:\n  region: eu\n  retention:\n    {retention}\n"
    )
    # Refused before any server is asked: the URL points nowhere.
    assert main(["retention", "report", "-f", str(document), "--nats-url", "nats://127.0.0.1:1"]) == 2
    assert field in capsys.readouterr().err
