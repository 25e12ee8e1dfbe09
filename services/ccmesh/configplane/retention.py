"""The ContactCenter's `spec.retention`: a region's overrides of the retention table.

Each field names one store of `ccmesh.retention.STORES`; anything left out keeps the table's
default. Stores that hold live data (profiles, agents, open contacts, journeys, routing state,
flows, AI training sets) accept `maxBytes` only: a maximum age there is refused, naming the field.
"""

from __future__ import annotations

from dataclasses import replace

from pydantic import Field, field_validator, model_validator

from ccmesh.configplane.base import Model
from ccmesh.retention import BY_KEY, DAY, REGION_KEYS, Limits, RetentionError, RetentionPolicy

#: Smaller than this, a store could not hold one large message (NATS allows 1 MiB payloads).
MIN_MAX_BYTES = 1024 * 1024
MAX_AGE_LIMIT_SECONDS = 100 * 365 * DAY


def _default_text(key: str) -> str:
    store = BY_KEY[key]
    age = store.defaults.max_age_seconds
    size = store.defaults.max_bytes
    age_text = f"maxAgeSeconds {age} ({age // DAY} days)" if age else "no maximum age"
    size_text = f"maxBytes {size}" if size > 0 else "no size limit"
    kept = "" if store.may_expire else " Holds live data: only maxBytes may be set."
    finished = store.defaults.finished_ttl_seconds
    finished_text = (
        f" Finished records expire after finishedTtlSeconds, default {finished} ({finished // DAY} days)."
        if finished
        else ""
    )
    return f"Retention of the {store.holds}. Default: {age_text}, {size_text}.{kept}{finished_text}"


class StoreRetention(Model):
    """Limits of a store whose data may expire."""

    max_age_seconds: int | None = Field(
        default=None,
        ge=1,
        le=MAX_AGE_LIMIT_SECONDS,
        description="Data older than this many seconds is removed by NATS. Omitted: the table's default.",
    )
    max_bytes: int | None = Field(
        default=None,
        ge=MIN_MAX_BYTES,
        description=(
            "Size cap in bytes (at least 1 MiB). A stream drops its oldest messages beyond it; a "
            "bucket refuses new writes. Omitted: the table's default."
        ),
    )

    def limits(self, key: str) -> Limits:
        default = BY_KEY[key].defaults
        return replace(
            default,
            max_age_seconds=default.max_age_seconds if self.max_age_seconds is None else self.max_age_seconds,
            max_bytes=default.max_bytes if self.max_bytes is None else self.max_bytes,
        )


class KeptStoreRetention(StoreRetention):
    """Limits of a store holding live data: it may be capped in size, never aged out."""

    max_age_seconds: int | None = Field(
        default=None, description="Not allowed: this store holds live data that must not expire."
    )

    @field_validator("max_age_seconds")
    @classmethod
    def _never_expires(cls, value: int | None) -> int | None:
        if value is not None:
            raise ValueError(
                "this store holds live data (profiles, agents, open contacts, journeys, routing "
                "state or configuration) that must not expire; only maxBytes may be set"
            )
        return value


class FinishingStoreRetention(KeptStoreRetention):
    """Limits of a store holding live records that finish: a finished one expires per key."""

    finished_ttl_seconds: int | None = Field(
        default=None,
        ge=1,
        le=MAX_AGE_LIMIT_SECONDS,
        description=(
            "A finished record (closed contact, ended journey, wrapped-up conversation, provider "
            "idempotency record) is removed this many seconds after it finished; live records stay. "
            "Omitted: the table's default."
        ),
    )

    def limits(self, key: str) -> Limits:
        limits = super().limits(key)
        if self.finished_ttl_seconds is None:
            return limits
        return replace(limits, finished_ttl_seconds=self.finished_ttl_seconds)


def _expiring(key: str) -> StoreRetention:
    return Field(default_factory=StoreRetention, description=_default_text(key))


def _kept(key: str) -> KeptStoreRetention:
    return Field(default_factory=KeptStoreRetention, description=_default_text(key))


def _finishing(key: str) -> FinishingStoreRetention:
    return Field(default_factory=FinishingStoreRetention, description=_default_text(key))


class ClassRetention(Model):
    """A data class's own retention inside the stream it shares with other classes."""

    max_age_seconds: int | None = Field(
        default=None,
        ge=1,
        le=MAX_AGE_LIMIT_SECONDS,
        description=(
            "Each message of the class is removed this many seconds after it was written (a "
            "per-message TTL, NATS Nats-TTL); must be shorter than the stream's maxAgeSeconds. "
            "Omitted: the class lives as long as its stream keeps it."
        ),
    )


class DataClassRetention(Model):
    """Data classes that share the event stream and may expire sooner than the rest of it."""

    messages: ClassRetention = Field(
        default_factory=ClassRetention, description="Customer and agent messages (message events)."
    )
    transcripts: ClassRetention = Field(
        default_factory=ClassRetention, description="Call transcript segments (transcript events)."
    )

    def ttls(self) -> dict[str, int]:
        return {
            key: settings.max_age_seconds
            for key, settings in (("messages", self.messages), ("transcripts", self.transcripts))
            if settings.max_age_seconds is not None
        }


class RetentionSettings(Model):
    """Per-region limits of every stream and bucket, overriding the retention table's defaults."""

    events: StoreRetention = _expiring("events")
    dead_letters: StoreRetention = _expiring("deadLetters")
    actions: StoreRetention = _expiring("actions")
    attachments: StoreRetention = _expiring("attachments")
    recordings: StoreRetention = _expiring("recordings")
    audit_log: StoreRetention = _expiring("auditLog")
    identity: KeptStoreRetention = _kept("identity")
    identity_history: StoreRetention = _expiring("identityHistory")
    gateway: FinishingStoreRetention = _finishing("gateway")
    integration: StoreRetention = _expiring("integration")
    ai: FinishingStoreRetention = _finishing("ai")
    flows: KeptStoreRetention = _kept("flows")
    journeys: FinishingStoreRetention = _finishing("journeys")
    acd: KeptStoreRetention = _kept("acd")
    legal_holds: KeptStoreRetention = _kept("legalHolds")
    ai_training: KeptStoreRetention = _kept("aiTraining")
    data_classes: DataClassRetention = Field(
        default_factory=DataClassRetention,
        description="Per-message retention of data classes sharing the event stream (shorter than events').",
    )

    @model_validator(mode="after")
    def _consistent(self) -> RetentionSettings:
        # A class's own time to live must fit its stream's limits, checked across both fields.
        try:
            self.policy()
        except RetentionError as error:
            raise ValueError(str(error)) from None
        return self

    def policy(self) -> RetentionPolicy:
        """The retention table with this region's overrides."""
        by_key = {key: getattr(self, _attribute(key)) for key in REGION_KEYS}
        return RetentionPolicy(
            {key: settings.limits(key) for key, settings in by_key.items() if settings != type(settings)()},
            message_ttls=self.data_classes.ttls(),
        )


def _attribute(key: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in key)
