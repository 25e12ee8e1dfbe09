"""The retention table covers every store, keeps live data from expiring, and a ContactCenter's
`spec.retention` overrides it per region or is refused with the field named."""

from __future__ import annotations

import pytest

from ccmesh import naming
from ccmesh.configplane.loader import ConfigFileError, parse_documents
from ccmesh.configplane.models import ContactCenter
from ccmesh.configplane.retention import RetentionSettings
from ccmesh.retention import (
    BY_KEY,
    DEFAULT_POLICY,
    FINISHED_TTL_SECONDS,
    GLOBAL_STORES,
    REGION_KEYS,
    STORES,
    Limits,
    RetentionError,
    RetentionPolicy,
    StoreKind,
)
from ccmesh.stores import stream_name

REGION = "eu"


def contact_center(retention: str) -> str:
    return f"""\
apiVersion: contactcenter.dev/v1alpha1
kind: ContactCenter
metadata:
  name: eu
spec:
  region: eu
  retention:
{retention}
"""


def problems_of(text: str) -> str:
    with pytest.raises(ConfigFileError) as caught:
        parse_documents(text, "cc.yaml")
    return str(caught.value)


def test_every_stream_and_bucket_of_a_region_is_in_the_table() -> None:
    streams = {s.name for s in naming.region_streams(REGION)}
    buckets = set(naming.region_buckets(REGION))
    in_table = {store.name(REGION): store.kind for store in STORES}
    assert {name for name, kind in in_table.items() if kind is StoreKind.STREAM} == streams
    assert {name for name, kind in in_table.items() if kind is StoreKind.BUCKET} == buckets
    assert {name for name, kind in in_table.items() if kind is StoreKind.OBJECTS} == {
        naming.attachments_bucket(REGION),
        naming.recordings_bucket(REGION),
        naming.legal_holds_bucket(REGION),
        naming.ai_training_bucket(REGION),
    }
    assert {store.name(REGION) for store in GLOBAL_STORES} == {
        naming.CONFIG_BUCKET,
        *naming.global_buckets(),
    }


def test_streams_keep_their_subjects_and_every_store_has_its_own_stream() -> None:
    events = BY_KEY["events"]
    assert events.subjects(REGION) == naming.events_stream(REGION).subjects
    names = [stream_name(store, REGION) for store in STORES]
    assert len(set(names)) == len(names)
    assert stream_name(BY_KEY["journeys"], REGION) == f"KV_{naming.journeys_bucket(REGION)}"
    assert stream_name(BY_KEY["attachments"], REGION) == f"OBJ_{naming.attachments_bucket(REGION)}"


@pytest.mark.parametrize("key", ["identity", "gateway", "journeys", "acd", "flows", "ai"])
def test_stores_holding_live_data_never_expire_by_default(key: str) -> None:
    store = BY_KEY[key]
    assert not store.may_expire
    assert store.defaults.max_age_seconds == 0


def test_global_stores_never_expire() -> None:
    assert all(not s.may_expire and s.defaults.max_age_seconds == 0 for s in GLOBAL_STORES)


@pytest.mark.parametrize("key", ["events", "deadLetters", "actions", "attachments", "integration"])
def test_stores_that_grow_with_traffic_are_bounded_by_default(key: str) -> None:
    assert BY_KEY[key].defaults.max_age_seconds > 0


def test_the_config_model_has_one_field_per_store_of_the_table() -> None:
    aliases = {field.alias for field in RetentionSettings.model_fields.values()}
    # Plus the data classes that may expire sooner than the stream they share.
    assert aliases == {*REGION_KEYS, "dataClasses"}


def test_a_policy_refuses_a_maximum_age_on_live_data_and_unknown_stores() -> None:
    with pytest.raises(RetentionError, match=r"retention\.journeys\.maxAgeSeconds"):
        RetentionPolicy({"journeys": Limits(max_age_seconds=60)})
    with pytest.raises(RetentionError, match=r"retention\.config: unknown store"):
        RetentionPolicy({"config": Limits(max_bytes=1 << 20)})
    assert RetentionPolicy({"journeys": Limits(max_bytes=1 << 30)}).limits("journeys").max_bytes == 1 << 30


def test_omitted_retention_keeps_the_table_defaults() -> None:
    (document,) = parse_documents(contact_center("    {}"), "cc.yaml")
    assert isinstance(document.document, ContactCenter)
    assert document.document.spec.retention.policy() == DEFAULT_POLICY
    plain = ContactCenter.model_validate(
        {
            "apiVersion": "contactcenter.dev/v1alpha1",
            "kind": "ContactCenter",
            "metadata": {"name": "eu"},
            "spec": {"region": "eu"},
        }
    )
    assert plain.spec.retention.policy() == DEFAULT_POLICY


def test_overrides_apply_to_their_store_and_keep_the_other_limit_from_the_table() -> None:
    text = contact_center(
        "    events: {maxAgeSeconds: 604800}\n"
        "    integration: {maxBytes: 2097152}\n"
        "    identity: {maxBytes: 1073741824}"
    )
    (document,) = parse_documents(text, "cc.yaml")
    assert isinstance(document.document, ContactCenter)
    policy = document.document.spec.retention.policy()
    assert policy.limits("events") == Limits(max_age_seconds=604800, max_bytes=-1)
    assert policy.limits("integration") == Limits(
        max_age_seconds=BY_KEY["integration"].defaults.max_age_seconds, max_bytes=2097152
    )
    assert policy.limits("identity") == Limits(max_age_seconds=0, max_bytes=1073741824)
    assert policy.limits("deadLetters") == BY_KEY["deadLetters"].defaults


@pytest.mark.parametrize(
    ("retention", "field", "reason"),
    [
        ("    identity: {maxAgeSeconds: 86400}", "spec.retention.identity.maxAgeSeconds", "must not expire"),
        ("    journeys: {maxAgeSeconds: 60}", "spec.retention.journeys.maxAgeSeconds", "must not expire"),
        (
            "    events: {maxAgeSeconds: 0}",
            "spec.retention.events.maxAgeSeconds",
            "greater than or equal to 1",
        ),
        (
            "    events: {maxAgeSeconds: -5}",
            "spec.retention.events.maxAgeSeconds",
            "greater than or equal to 1",
        ),
        ("    events: {maxAgeSeconds: 1 day}", "spec.retention.events.maxAgeSeconds", "integer"),
        (
            "    actions: {maxBytes: 1000}",
            "spec.retention.actions.maxBytes",
            "greater than or equal to 1048576",
        ),
        ("    evnts: {maxAgeSeconds: 60}", "spec.retention.evnts", "unknown field"),
        ("    events: {maxAge: 60}", "spec.retention.events.maxAge", "unknown field"),
    ],
)
def test_bad_retention_is_refused_naming_the_field(retention: str, field: str, reason: str) -> None:
    problems = problems_of(contact_center(retention))
    assert field in problems
    assert reason in problems


def test_a_refused_retention_leaves_the_other_documents_of_the_file_unread() -> None:
    # One bad field refuses the whole file: nothing half-applied.
    text = contact_center("    identity: {maxAgeSeconds: 86400}") + "---\n" + contact_center("    {}")
    assert "spec.retention.identity.maxAgeSeconds" in problems_of(text)


@pytest.mark.parametrize("key", ["gateway", "journeys", "ai"])
def test_stores_with_finished_records_expire_them_after_a_week_by_default(key: str) -> None:
    assert BY_KEY[key].finishes
    assert DEFAULT_POLICY.finished_ttl(key) == FINISHED_TTL_SECONDS == 7 * 24 * 3600


def test_only_stores_with_finished_records_have_a_finished_ttl() -> None:
    finishing = {store.key for store in STORES if store.finishes}
    assert finishing == {"gateway", "journeys", "ai"}
    assert all(DEFAULT_POLICY.finished_ttl(store.key) == 0 for store in STORES if not store.finishes)
    with pytest.raises(RetentionError, match=r"retention\.events\.finishedTtlSeconds"):
        RetentionPolicy({"events": Limits(max_age_seconds=60, finished_ttl_seconds=60)})
    with pytest.raises(RetentionError, match=r"retention\.gateway\.finishedTtlSeconds: must be positive"):
        RetentionPolicy({"gateway": Limits(finished_ttl_seconds=-1)})


def test_a_region_sets_the_finished_ttl_and_keeps_the_other_limits() -> None:
    text = contact_center(
        "    journeys: {finishedTtlSeconds: 86400}\n"
        "    gateway: {maxBytes: 1073741824, finishedTtlSeconds: 259200}"
    )
    (document,) = parse_documents(text, "cc.yaml")
    assert isinstance(document.document, ContactCenter)
    policy = document.document.spec.retention.policy()
    assert policy.finished_ttl("journeys") == 86400
    assert policy.limits("journeys").max_age_seconds == 0  # live journeys never age out
    assert policy.limits("gateway") == Limits(max_bytes=1073741824, finished_ttl_seconds=259200)
    assert policy.finished_ttl("ai") == FINISHED_TTL_SECONDS


@pytest.mark.parametrize(
    ("retention", "field", "reason"),
    [
        ("    events: {finishedTtlSeconds: 60}", "spec.retention.events.finishedTtlSeconds", "unknown field"),
        (
            "    identity: {finishedTtlSeconds: 60}",
            "spec.retention.identity.finishedTtlSeconds",
            "unknown field",
        ),
        (
            "    journeys: {finishedTtlSeconds: 0}",
            "spec.retention.journeys.finishedTtlSeconds",
            "greater than or equal to 1",
        ),
        ("    ai: {finishedTtlSeconds: a week}", "spec.retention.ai.finishedTtlSeconds", "integer"),
    ],
)
def test_a_bad_finished_ttl_is_refused_naming_the_field(retention: str, field: str, reason: str) -> None:
    problems = problems_of(contact_center(retention))
    assert field in problems
    assert reason in problems
