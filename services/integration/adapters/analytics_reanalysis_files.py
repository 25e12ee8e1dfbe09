"""The Parquet schema of the analytics store's re-analysed contacts and their mapping from
ContactReanalysed events."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields

import pyarrow as pa

from contactcenter.events.v1 import events_pb2
from integration.domain.analytics_reanalysis import ContactReanalysis

REANALYSIS_TYPES = ("contact_reanalysed",)

REANALYSIS_SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("tenant_id", pa.string()),
        ("contact_id", pa.string()),
        ("job_id", pa.string()),
        ("analysed_at", pa.float64()),
        ("intent", pa.string()),
        ("intent_confidence", pa.float64()),
        ("intent_model_version", pa.string()),
        ("language", pa.string()),
        ("sentiment", pa.float64()),
        ("tags", pa.string()),
        ("redacted_kinds", pa.string()),
        ("messages", pa.int32()),
    ]
)
assert REANALYSIS_SCHEMA.names == [f.name for f in fields(ContactReanalysis)], "the schema follows the row"


def contact_reanalysis(event: events_pb2.Event) -> ContactReanalysis | None:
    """The row a ContactReanalysed event makes (its summary stays on the stream: the store keeps
    no conversation text); None for any other event."""
    if event.WhichOneof("payload") != "contact_reanalysed":
        return None
    found = event.contact_reanalysed
    return ContactReanalysis(
        event_id=event.event_id,
        tenant_id=event.tenant.tenant_id,
        contact_id=event.contact_id,
        job_id=found.job_id,
        analysed_at=event.occurred_at.seconds + event.occurred_at.nanos / 1e9,
        intent=found.intent,
        intent_confidence=found.intent_confidence,
        intent_model_version=found.intent_model_version,
        language=found.language,
        sentiment=found.sentiment,
        tags=",".join(found.tags),
        redacted_kinds=",".join(found.redacted_kinds),
        messages=found.messages,
    )


def reanalyses_table(rows: Sequence[ContactReanalysis]) -> pa.Table:
    return pa.table(
        {name: [getattr(r, name) for r in rows] for name in REANALYSIS_SCHEMA.names}, schema=REANALYSIS_SCHEMA
    )
