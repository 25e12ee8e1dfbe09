"""How long every stream and bucket of the platform keeps its data: the one retention table.

Each store the platform creates is a row of `STORES`: what it holds, its default limits and
whether it may expire at all. The services (on start, through `ccmesh.stores`) and the operator
(on every reconcile) create or update the stores from this table, with the region's overrides
from its ContactCenter (`spec.retention`, validated by `ccmesh.configplane.retention`).

Limits are enforced by nats-server itself:
- `max_age_seconds`: a message (an event, or one revision of a key) older than this is removed.
  On a bucket, a key disappears once its newest revision is that old, so only a key nobody
  has written for that long goes.
- `max_bytes`: a stream drops its oldest messages beyond this size; a bucket (discard-new)
  refuses new writes instead, so a full bucket fails loudly and never loses a key silently.

- `finished_ttl_seconds`: a record that is finished (a closed contact, an ended journey, a
  wrapped-up conversation, a provider's idempotency record) is written to expire this long
  after, per key, by the service that finishes it; what is live stays. 0: finished records
  are kept.

Stores whose data must not vanish while it is in use (customer profiles, agents, the config
plane, live contacts and journeys, routing state) are `may_expire=False`: the table gives them
no maximum age and a region cannot set one; their size can still be capped.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ccmesh import naming

DAY = 24 * 3600
#: How long finished records stay readable by default: a week covers a provider retrying a
#: webhook for days and an admin looking a finished journey up.
FINISHED_TTL_SECONDS = 7 * DAY
#: How long the marker of a deleted index entry stays: watchers following the bucket see the
#: deletion at once; after this the key leaves no trace for a later watch to read.
DELETE_MARKER_TTL_SECONDS = 3600
#: "No limit" as nats-server spells it for sizes.
UNLIMITED_BYTES = -1


class StoreKind(enum.StrEnum):
    STREAM = "stream"
    BUCKET = "bucket"
    OBJECTS = "objects"


@dataclass(frozen=True)
class Limits:
    """The limits of one store: 0 seconds means no age limit, -1 bytes no size limit, 0 finished
    seconds keeps finished records."""

    max_age_seconds: int = 0
    max_bytes: int = UNLIMITED_BYTES
    finished_ttl_seconds: int = 0


@dataclass(frozen=True)
class StoreClass:
    #: Its name in the ContactCenter's `spec.retention` (camelCase there, e.g. `deadLetters`).
    key: str
    kind: StoreKind
    #: What the store holds, for docs and error messages.
    holds: str
    #: The store's name (and a stream's subjects) in a region, from `ccmesh.naming`.
    locate: Callable[[str], naming.StreamName | str]
    defaults: Limits
    #: False: live data is kept until its owner deletes it; no maximum age may be set.
    may_expire: bool
    #: Revisions kept per key (buckets only).
    history: int = 1
    #: The server itself refuses to delete or purge single records (streams only): the records
    #: leave by age alone, so no one with store access can edit the trail.
    append_only: bool = False

    @property
    def finishes(self) -> bool:
        """Whether the store holds records that finish (and may then expire per key)."""
        return self.defaults.finished_ttl_seconds > 0

    def name(self, region: str) -> str:
        located = self.locate(region)
        return located if isinstance(located, str) else located.name

    def subjects(self, region: str) -> tuple[str, ...]:
        located = self.locate(region)
        return () if isinstance(located, str) else located.subjects


#: Every per-region store, in the order the operator creates them.
STORES: tuple[StoreClass, ...] = (
    # The record of what happened: history views and subscriptions replay from it. Contact state
    # itself lives in buckets, so dropping month-old events loses no live contact.
    StoreClass(
        "events",
        StoreKind.STREAM,
        "contact events",
        defaults=Limits(30 * DAY),
        may_expire=True,
        locate=naming.events_stream,
    ),
    # Failed events kept for inspection; after a month nobody replays them.
    StoreClass(
        "deadLetters",
        StoreKind.STREAM,
        "dead-lettered events",
        defaults=Limits(30 * DAY),
        may_expire=True,
        locate=naming.dead_letter_stream,
    ),
    # Actions are applied within seconds of arriving; a month covers any outage of a consumer.
    StoreClass(
        "actions",
        StoreKind.STREAM,
        "inbound actions",
        defaults=Limits(30 * DAY),
        may_expire=True,
        locate=naming.actions_stream,
    ),
    # Attachments are referenced by events, so they live as long as the events do.
    StoreClass(
        "attachments",
        StoreKind.OBJECTS,
        "attachment files",
        locate=naming.attachments_bucket,
        defaults=Limits(30 * DAY),
        may_expire=True,
    ),
    # Call recordings: kept for quality reviews and disputes, a quarter by default; a region
    # with a shorter promise to its callers sets its own.
    StoreClass(
        "recordings",
        StoreKind.OBJECTS,
        "call recordings",
        locate=naming.recordings_bucket,
        defaults=Limits(90 * DAY),
        may_expire=True,
    ),
    # Who read or changed what: an audit trail is kept at least a year, as contact centers
    # commonly promise their auditors.
    StoreClass(
        "auditLog",
        StoreKind.STREAM,
        "access audit records (reads of customer data and changes, by whom)",
        locate=naming.audit_stream,
        defaults=Limits(400 * DAY),
        may_expire=True,
        append_only=True,
    ),
    StoreClass(
        "identity",
        StoreKind.BUCKET,
        "customer profiles, identifier indexes and agents",
        locate=naming.identity_bucket,
        defaults=Limits(),
        may_expire=False,
        history=5,
    ),
    # Write-once records of past contacts (timeline entries, contact links, audit, crossings):
    # an entry a year old is history, never live state.
    StoreClass(
        "identityHistory",
        StoreKind.BUCKET,
        "customer timelines, contact links and audit records",
        locate=naming.identity_history_bucket,
        defaults=Limits(365 * DAY),
        may_expire=True,
        history=1,
    ),
    # Open contacts and contact records are live until the contact closes; closed ones and
    # provider idempotency records expire per key.
    StoreClass(
        "gateway",
        StoreKind.BUCKET,
        "open contacts, contact records and provider idempotency records",
        locate=naming.gateway_bucket,
        defaults=Limits(finished_ttl_seconds=FINISHED_TTL_SECONDS),
        may_expire=False,
        history=1,
    ),
    # Dead letters of subscriptions, action idempotency records and delivery leases (renewed
    # every few seconds while held): nothing here is needed after a month.
    StoreClass(
        "integration",
        StoreKind.BUCKET,
        "subscription dead letters, action idempotency records, leases",
        locate=naming.integration_bucket,
        defaults=Limits(30 * DAY),
        may_expire=True,
        history=1,
    ),
    StoreClass(
        "ai",
        StoreKind.BUCKET,
        "intent training sets, knowledge bases and conversation state",
        locate=naming.ai_bucket,
        defaults=Limits(finished_ttl_seconds=FINISHED_TTL_SECONDS),
        may_expire=False,
        history=5,
    ),
    StoreClass(
        "flows",
        StoreKind.BUCKET,
        "published flow versions and aliases",
        locate=naming.flows_bucket,
        defaults=Limits(),
        may_expire=False,
        history=5,
    ),
    # A journey may wait for days on a customer; it must not vanish while it waits. An ended
    # one expires per key.
    StoreClass(
        "journeys",
        StoreKind.BUCKET,
        "journey state per contact",
        locate=naming.journeys_bucket,
        defaults=Limits(finished_ttl_seconds=FINISHED_TTL_SECONDS),
        may_expire=False,
        history=5,
    ),
    StoreClass(
        "acd",
        StoreKind.BUCKET,
        "agent ledgers, routed contacts, queues and routing decisions",
        locate=naming.acd_bucket,
        defaults=Limits(),
        may_expire=False,
        history=1,
    ),
    # Intent training sets wait here only until a training job takes them; the trained models
    # stay while they are in use, so nothing ages out (a size cap may be set).
    StoreClass(
        "aiTraining",
        StoreKind.OBJECTS,
        "intent training uploads and trained intent models",
        locate=naming.ai_training_bucket,
        defaults=Limits(),
        may_expire=False,
    ),
    # Copies of records under a legal hold: they must outlive the originals' retention until the
    # hold is released, so nothing here ages out (`ccmesh.retention_holds`).
    StoreClass(
        "legalHolds",
        StoreKind.OBJECTS,
        "copies of records under a legal hold",
        locate=naming.legal_holds_bucket,
        defaults=Limits(),
        may_expire=False,
    ),
)

#: Buckets shared by every region: no region's document may change them, and they never expire.
GLOBAL_STORES: tuple[StoreClass, ...] = (
    StoreClass(
        "config",
        StoreKind.BUCKET,
        "config-plane documents",
        locate=lambda _region: naming.CONFIG_BUCKET,
        defaults=Limits(),
        may_expire=False,
        history=10,
    ),
    StoreClass(
        "identityGlobalIndex",
        StoreKind.BUCKET,
        "keyed hashes of identifiers and their home region",
        locate=lambda _region: naming.IDENTITY_GLOBAL_INDEX_BUCKET,
        defaults=Limits(),
        may_expire=False,
        history=1,
    ),
)

BY_KEY: Mapping[str, StoreClass] = {store.key: store for store in (*STORES, *GLOBAL_STORES)}
#: The keys a region's `spec.retention` may name.
REGION_KEYS: tuple[str, ...] = tuple(store.key for store in STORES)


class Enforcement(enum.StrEnum):
    """How nats-server removes a store's records."""

    #: The store's maximum age: a record goes that long after it was written.
    MAX_AGE = "max-age"
    #: A per-key time to live written when the record finishes; live records stay.
    FINISHED_TTL = "finished-ttl"
    #: Never by age: kept until erased (or a size cap refuses new writes).
    KEPT = "kept"
    #: A time to live on each message of the class (`Nats-TTL`), shorter than its shared stream's
    #: maximum age: transcripts may go sooner than the other contact events beside them.
    MESSAGE_TTL = "message-ttl"


class RetentionError(ValueError):
    """A retention override that the table does not allow; the message names the field."""


@dataclass(frozen=True)
class RetentionPolicy:
    """The table's defaults with one region's overrides (store key -> limits)."""

    overrides: Mapping[str, Limits] = field(default_factory=dict)
    #: Per-message time to live of a data class that shares a stream (data class key -> seconds).
    message_ttls: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for key, seconds in self.message_ttls.items():
            data_class = next((c for c in DATA_CLASSES if c.key == key), None)
            where = f"retention.dataClasses.{key}.maxAgeSeconds"
            if data_class is None or not data_class.event_types:
                sharing = ", ".join(c.key for c in DATA_CLASSES if c.event_types)
                raise RetentionError(f"{where}: only a class that shares a stream may set one ({sharing})")
            if seconds < 1:
                raise RetentionError(f"{where}: must be at least 1")
            stream_age = self.limits(data_class.store).max_age_seconds
            if stream_age and seconds >= stream_age:
                raise RetentionError(
                    f"{where}: {seconds} is not shorter than retention.{data_class.store}.maxAgeSeconds "
                    f"({stream_age}), which removes the class anyway; lower that instead"
                )
        for key, limits in self.overrides.items():
            store = BY_KEY.get(key)
            if store is None or store not in STORES:
                raise RetentionError(f"retention.{key}: unknown store; known: {', '.join(REGION_KEYS)}")
            if limits.max_age_seconds and not store.may_expire:
                raise RetentionError(
                    f"retention.{key}.maxAgeSeconds: {store.holds} must not expire; only maxBytes may be set"
                )
            if limits.finished_ttl_seconds and not store.finishes:
                raise RetentionError(
                    f"retention.{key}.finishedTtlSeconds: {store.holds} have no finished records to expire"
                )
            if limits.finished_ttl_seconds < 0:
                raise RetentionError(f"retention.{key}.finishedTtlSeconds: must be positive")

    def limits(self, key: str) -> Limits:
        return self.overrides.get(key, BY_KEY[key].defaults)

    def of(self, store: StoreClass) -> Limits:
        return self.limits(store.key)

    def finished_ttl(self, key: str) -> int:
        """Seconds a finished record of the store stays readable (0: kept)."""
        return self.limits(key).finished_ttl_seconds

    def enforcement(self, key: str) -> Enforcement:
        """How nats-server removes the store's records under this policy."""
        limits = self.limits(key)
        if limits.max_age_seconds:
            return Enforcement.MAX_AGE
        if limits.finished_ttl_seconds:
            return Enforcement.FINISHED_TTL
        return Enforcement.KEPT

    def kept_seconds(self, key: str) -> int:
        """How long a record of the store stays (after it finished, for finished-TTL); 0: kept."""
        limits = self.limits(key)
        return limits.max_age_seconds or limits.finished_ttl_seconds

    def setting(self, key: str) -> str:
        """The ContactCenter field that governs the store's expiry (its size cap, when kept)."""
        field_name = {
            Enforcement.MAX_AGE: "maxAgeSeconds",
            Enforcement.FINISHED_TTL: "finishedTtlSeconds",
            Enforcement.KEPT: "maxBytes",
        }[self.enforcement(key)]
        return f"spec.retention.{key}.{field_name}"


DEFAULT_POLICY = RetentionPolicy()


def history_of(key: str) -> int:
    """Revisions kept per key of a bucket: the services open their buckets with this."""
    return BY_KEY[key].history


@dataclass(frozen=True)
class DataClass:
    """A kind of customer data as a region's owner thinks of it, and the store that keeps it.

    Several classes may share a store (messages and transcripts are contact events on the
    region's event stream); they then share its retention, set on the store's field."""

    key: str
    holds: str
    store: str
    #: The event types (payload names) of a class that shares the event stream with others: it
    #: may then be given its own, shorter, per-message time to live.
    event_types: frozenset[str] = frozenset()

    @property
    def store_class(self) -> StoreClass:
        return BY_KEY[self.store]

    def enforcement(self, policy: RetentionPolicy) -> Enforcement:
        if policy.message_ttls.get(self.key):
            return Enforcement.MESSAGE_TTL
        return policy.enforcement(self.store)

    def kept_seconds(self, policy: RetentionPolicy) -> int:
        return policy.message_ttls.get(self.key) or policy.kept_seconds(self.store)

    def setting(self, policy: RetentionPolicy) -> str:
        if policy.message_ttls.get(self.key):
            return f"spec.retention.dataClasses.{self.key}.maxAgeSeconds"
        return policy.setting(self.store)


#: The data classes of a region, each on the store whose limits remove it.
DATA_CLASSES: tuple[DataClass, ...] = (
    DataClass("contactEvents", "contact events (created, routed, assigned, closed...)", "events"),
    DataClass(
        "messages",
        "customer and agent messages (message events)",
        "events",
        frozenset({"message_received", "message_sent"}),
    ),
    DataClass(
        "transcripts",
        "call transcript segments (transcript events)",
        "events",
        frozenset({"transcript_segment"}),
    ),
    DataClass("attachments", "attachment files", "attachments"),
    DataClass("recordings", "call recordings", "recordings"),
    DataClass("journeyState", "journey state per contact", "journeys"),
    DataClass("profiles", "customer profiles and identifier indexes", "identity"),
    DataClass("audit", "customer timelines, contact links and audit records", "identityHistory"),
    DataClass("accessAudit", "who read customer data or changed configuration, when", "auditLog"),
)


def event_ttls(policy: RetentionPolicy) -> dict[str, int]:
    """Seconds each event type lives under `policy` when its class has a per-message time to
    live (event type -> seconds); other event types follow their stream's maximum age."""
    return {
        event_type: seconds
        for data_class in DATA_CLASSES
        if (seconds := policy.message_ttls.get(data_class.key, 0))
        for event_type in data_class.event_types
    }
