"""Batch jobs' checkpoints in the ai bucket (key `batch.<tenant>.<job>`) and their results as
ContactReanalysed events on the region's stream."""

from __future__ import annotations

from collections.abc import Sequence

import orjson
from nats.js.client import JetStreamContext
from nats.js.errors import KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from ai.adapters.tenant_store import check_token
from ai.domain.batch import Checkpoint, JobRunningElsewhereError, Reanalysis
from ccmesh import naming
from ccmesh.envelope import new_event
from ccmesh.events import EventPublisher
from ccmesh.kv import ensure_bucket, get_json
from contactcenter.events.v1 import events_pb2

#: `source` of the results.
SOURCE = "ai-batch"


class KvCheckpoints:
    """Saved with the revision last seen (optimistic concurrency): two ai instances that were
    asked for the same job at once cannot both move it on; the second to save stops."""

    def __init__(self, bucket: KeyValue) -> None:
        self._bucket = bucket
        #: Key -> the revision this process last read or wrote (0: absent when read).
        self._revisions: dict[str, int] = {}

    @classmethod
    async def open(
        cls, js: JetStreamContext, region: str, placement_tags: list[str], replicas: int = 1
    ) -> KvCheckpoints:
        bucket = await ensure_bucket(
            js, naming.ai_bucket(region), history=5, placement_tags=placement_tags, replicas=replicas
        )
        return cls(bucket)

    @staticmethod
    def _key(tenant_id: str, job_id: str) -> str:
        return f"batch.{check_token('tenant_id', tenant_id)}.{check_token('job_id', job_id)}"

    async def load(self, tenant_id: str, job_id: str) -> Checkpoint | None:
        key = self._key(tenant_id, job_id)
        found = await get_json(self._bucket, key)
        self._revisions[key] = 0 if found is None else found[1]
        return None if found is None else Checkpoint.from_json(found[0])

    async def save(self, tenant_id: str, job_id: str, checkpoint: Checkpoint) -> None:
        key = self._key(tenant_id, job_id)
        value = orjson.dumps(checkpoint.to_json())
        last = self._revisions.get(key, 0)
        try:
            if last:
                self._revisions[key] = await self._bucket.update(key, value, last=last)
            else:
                self._revisions[key] = await self._bucket.create(key, value)
        except KeyWrongLastSequenceError as error:
            self._revisions.pop(key, None)
            raise JobRunningElsewhereError(
                f"job {job_id} was moved on by another call meanwhile; run it again to continue"
            ) from error


def reanalysed_event(result: Reanalysis, region: str) -> events_pb2.Event:
    return new_event(
        events_pb2.ContactReanalysed(
            job_id=result.job_id,
            steps=list(result.steps),
            intent=result.intent,
            intent_confidence=result.intent_confidence,
            intent_model_version=result.intent_model_version,
            language=result.language,
            sentiment=result.sentiment,
            summary=result.summary,
            tags=list(result.tags),
            redacted_kinds=list(result.redacted_kinds),
            messages=result.messages,
        ),
        tenant_id=result.tenant_id,
        brand_id=result.brand_id,
        region=region,
        source=SOURCE,
        contact_id=result.contact_id,
        event_id=result.event_id,
    )


class ReanalysisEvents:
    def __init__(self, publisher: EventPublisher, region: str) -> None:
        self._publisher = publisher
        self._region = region

    async def publish(self, results: Sequence[Reanalysis]) -> None:
        await self._publisher.publish_all([reanalysed_event(r, self._region) for r in results])
