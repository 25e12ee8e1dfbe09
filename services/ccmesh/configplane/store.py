"""The config plane's store: validated documents in a JetStream KV bucket.

Each document is stored as JSON under `<Kind>.<metadata.name>`. The store owns three
metadata fields: `generation` (1 on create, +1 on every change of `spec`),
`creationTimestamp` (set once) and `resourceVersion`. The last is the KV revision, which
is only known after the write, so it is never stored: it is filled in on every read.
Writes go through `kv.update_with`, so two concurrent applies cannot lose each other's change.

    store = await ConfigStore.open(nc.jetstream())
    result = await store.apply(contact_center)
    eu = await store.get("ContactCenter", "eu")
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from nats.js.client import JetStreamContext
from nats.js.errors import BucketNotFoundError, KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue
from pydantic import ValidationError

from ccmesh import naming
from ccmesh.configplane.loader import DocumentError, kind_of, metadata_of, validate_document, with_metadata
from ccmesh.configplane.models import KINDS, Model
from ccmesh.kv import ensure_bucket, open_bucket, update_with
from ccmesh.kv_watch import current_entries
from ccmesh.retention import history_of

log = logging.getLogger(__name__)

DEFAULT_BUCKET = naming.CONFIG_BUCKET
#: Revisions kept per document (the retention table's): what changed recently, cheaply.
BUCKET_HISTORY = history_of("config")


class ConfigStoreError(RuntimeError):
    """The request cannot be served as asked; the message says why."""


class ConflictError(ConfigStoreError):
    """The document names a resourceVersion that is no longer the stored one."""


@dataclass(frozen=True)
class AppliedResult:
    kind: str
    name: str
    generation: int
    revision: int
    #: False when the stored document already said exactly this (nothing was written).
    changed: bool
    #: True when the document did not exist before.
    created: bool


def document_key(kind: str, name: str) -> str:
    return f"{kind}.{name}"


def encode(document: Model) -> bytes:
    """The stored form: camelCase JSON without resourceVersion (that is the KV revision)."""
    data = document.model_dump(mode="json", by_alias=True)
    data["metadata"].pop("resourceVersion", None)
    return orjson.dumps(data)


def decode(value: bytes, revision: int | None) -> Model:
    """Validate a stored value; raises `DocumentError` naming the bad fields.

    `revision` becomes metadata.resourceVersion; None leaves it empty, as stored.
    """
    try:
        raw = orjson.loads(value)
    except orjson.JSONDecodeError as err:
        raise DocumentError([f"stored value is not JSON: {err.msg}"]) from None
    document = validate_document(raw)
    if revision is None:
        return document
    return with_metadata(document, resource_version=str(revision))


def next_version(previous: Model | None, incoming: Model, now: datetime) -> Model:
    """The document to store when `incoming` is applied over `previous` (pure).

    Returns `previous` itself when nothing would change.
    """
    if previous is None:
        return with_metadata(incoming, generation=1, creation_timestamp=now, resource_version="")
    previous_meta = metadata_of(previous)
    same_spec = getattr(previous, "spec", None) == getattr(incoming, "spec", None)
    candidate = with_metadata(
        incoming,
        generation=previous_meta.generation + (0 if same_spec else 1),
        creation_timestamp=previous_meta.creation_timestamp or now,
        resource_version=previous_meta.resource_version,
    )
    return previous if candidate == previous else candidate


class ConfigStore:
    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv

    @classmethod
    async def open(
        cls,
        js: JetStreamContext,
        bucket: str = DEFAULT_BUCKET,
        *,
        placement_tags: list[str] | None = None,
        replicas: int = 1,
    ) -> ConfigStore:
        """The store over `bucket`, creating the bucket when it does not exist yet."""
        kv = await ensure_bucket(
            js, bucket, history=BUCKET_HISTORY, placement_tags=placement_tags, replicas=replicas
        )
        return cls(kv)

    @classmethod
    async def existing(cls, js: JetStreamContext, bucket: str = DEFAULT_BUCKET) -> ConfigStore | None:
        """The store over `bucket`, or None when the bucket was never created (nothing was applied)."""
        try:
            return cls(await open_bucket(js, bucket))
        except BucketNotFoundError:
            return None

    @property
    def kv(self) -> KeyValue:
        return self._kv

    async def apply(self, document: Model) -> AppliedResult:
        """Store `document`, creating or updating it; unchanged documents are not rewritten.

        A non-empty `metadata.resourceVersion` is a precondition: the apply fails with
        `ConflictError` if the stored revision is another one (someone changed it since).
        """
        kind, name = _identity(document)
        expected_version: str = metadata_of(document).resource_version
        if expected_version:
            return await self._apply_at(document, kind, name, expected_version)
        now = datetime.now(UTC)
        outcome: dict[str, Any] = {}

        def mutate(current: bytes | None) -> bytes | None:
            # Called again after a lost race, so everything it learns goes into `outcome` afresh.
            previous = _decode_for_update(current, kind, name)
            stored = next_version(previous, document, now)
            outcome.update(
                generation=metadata_of(stored).generation,
                created=previous is None,
                changed=stored is not previous,
            )
            return current if stored is previous else encode(stored)

        revision = await update_with(self._kv, document_key(kind, name), mutate)
        return AppliedResult(kind=kind, name=name, revision=revision, **outcome)

    async def _apply_at(self, document: Model, kind: str, name: str, expected_version: str) -> AppliedResult:
        if not expected_version.isdigit():
            raise ConfigStoreError(
                f"{kind}/{name}: metadata.resourceVersion must be a stored revision number, "
                f"got {expected_version!r}"
            )
        key = document_key(kind, name)
        entry = await _get_entry(self._kv, key)
        found = "it does not exist" if entry is None else f"it is at {entry[1]}"
        conflict = ConflictError(
            f"{kind}/{name} was changed since resourceVersion {expected_version} ({found}); "
            "get it again, or remove metadata.resourceVersion to overwrite"
        )
        if entry is None or entry[1] != int(expected_version):
            raise conflict
        previous = _decode_for_update(entry[0], kind, name)
        stored = next_version(previous, document, datetime.now(UTC))
        generation = metadata_of(stored).generation
        if stored is previous:
            return AppliedResult(kind, name, generation, entry[1], changed=False, created=False)
        try:
            revision = await self._kv.update(key, encode(stored), last=entry[1])
        except KeyWrongLastSequenceError:
            raise ConflictError(
                f"{kind}/{name} was changed since resourceVersion {expected_version}; get it again"
            ) from None
        return AppliedResult(kind, name, generation, revision, changed=True, created=previous is None)

    async def get(self, kind: str, name: str) -> Model | None:
        """The stored document, or None when there is none."""
        _check_kind(kind)
        entry = await _get_entry(self._kv, document_key(kind, name))
        if entry is None:
            return None
        value, revision = entry
        try:
            return decode(value, revision)
        except DocumentError as err:
            raise ConfigStoreError(f"stored {kind}/{name} (revision {revision}) is invalid: {err}") from None

    async def list(self, kind: str) -> list[Model]:
        """Every stored document of `kind`, by name. Invalid stored values are logged and skipped."""
        _check_kind(kind)
        documents: list[Model] = []
        for entry in await current_entries(self._kv, f"{kind}.*"):
            try:
                documents.append(decode(entry.value or b"", entry.revision or 0))
            except DocumentError as err:
                log.warning("skipping invalid stored %s (revision %s): %s", entry.key, entry.revision, err)
        return sorted(documents, key=lambda d: metadata_of(d).name)

    async def delete(self, kind: str, name: str) -> bool:
        """Delete the document; False when there was none."""
        _check_kind(kind)
        key = document_key(kind, name)
        if await _get_entry(self._kv, key) is None:
            return False
        await self._kv.delete(key)
        return True


def _identity(document: Model) -> tuple[str, str]:
    kind = kind_of(document)
    _check_kind(kind)
    return kind, metadata_of(document).name


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ConfigStoreError(f"unknown kind {kind!r}; known kinds: {', '.join(sorted(KINDS))}")


def _decode_for_update(current: bytes | None, kind: str, name: str) -> Model | None:
    if current is None:
        return None
    try:
        return decode(current, None)
    except (DocumentError, ValidationError) as err:
        # Applying a valid document is how a broken stored one gets repaired, so it is replaced.
        log.warning("replacing invalid stored %s/%s: %s", kind, name, err)
        return None


async def _get_entry(kv: KeyValue, key: str) -> tuple[bytes, int] | None:
    try:
        entry = await kv.get(key)
    except KeyNotFoundError:
        return None
    return entry.value or b"", entry.revision or 0
