"""A batch re-analysis of a finished contact as the analytics store keeps it (pure): the intent,
sentiment and tags the tenant's pipeline of the time found, beside the contact's original row.
One event makes one row, so a row is kept once by its event id (stable per job and contact)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ContactReanalysis:
    event_id: str
    tenant_id: str
    contact_id: str
    job_id: str
    #: Epoch seconds (UTC) of the re-analysis; its day is the row's partition.
    analysed_at: float
    intent: str
    intent_confidence: float
    intent_model_version: str
    language: str
    sentiment: float
    #: Comma-separated, as the event lists them (e.g. "refund,negative,pii:phone").
    tags: str
    redacted_kinds: str
    messages: int
