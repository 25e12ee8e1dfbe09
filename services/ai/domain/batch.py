"""Batch re-analysis of finished contacts (pure): the steps a job may run, its parameters, its
checkpoint, and what one contact's re-analysis yields.

A job walks a period's contacts in the analytics store's order (arrival, then contact id), one
page at a time. Its checkpoint names the page it is in (the token that page was read with) and
the contacts of that page already done, so a job stopped anywhere resumes with the next contact
not yet done and never processes one twice.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ccmesh.envelope import stable_event_id

#: What a job may do for each contact, in the order it does them.
STEPS = ("reclassify", "summarise", "tag", "redact")
#: Contacts one call processes when it does not say.
DEFAULT_SLICE = 100
MAX_SLICE = 10_000
#: A job id: a key token of the ai bucket.
_JOB_ID = re.compile(r"^[A-Za-z0-9_=-]{1,100}$")
#: Mean sentiment beyond which a contact is tagged negative or positive.
SENTIMENT_TAG_THRESHOLD = 0.3
#: Escalation score from which a contact is tagged "escalation".
ESCALATION_TAG_THRESHOLD = 0.5


class BatchError(ValueError):
    """A batch parameter is wrong; the message names it."""

    def __init__(self, field_name: str, problem: str) -> None:
        super().__init__(f"{field_name}: {problem}")
        self.field = field_name


class JobRunningElsewhereError(RuntimeError):
    """Another process moved the job's checkpoint on: this call stops, the job goes on there."""


@dataclass(frozen=True)
class BatchJob:
    tenant_id: str
    job_id: str
    start: str
    end: str
    time_zone: str
    steps: tuple[str, ...]


def batch_job(
    tenant_id: str, job_id: str, start: str, end: str, time_zone: str, steps: Sequence[str]
) -> BatchJob:
    """The job these parameters describe; BatchError names the first wrong one. The period itself
    is checked by the analytics store, which lists its contacts."""
    if not tenant_id:
        raise BatchError("tenant_id", "is required")
    if not start or not end:
        raise BatchError("start" if not start else "end", "is required (ISO 8601, e.g. 2026-12-01)")
    unknown = sorted(set(steps) - set(STEPS))
    if unknown:
        raise BatchError("steps", f"unknown step(s) {', '.join(unknown)}; known: {', '.join(STEPS)}")
    chosen = tuple(s for s in STEPS if s in steps) if steps else STEPS
    if not job_id:
        job_id = "job-" + stable_event_id("ai-batch", tenant_id, start, end, time_zone, *chosen)[:18]
    elif not _JOB_ID.match(job_id):
        raise BatchError("job_id", f"{job_id[:50]!r} must be 1-100 letters, digits, '_', '-' or '='")
    return BatchJob(tenant_id, job_id, start, end, time_zone, chosen)


def slice_size(max_contacts: int) -> int:
    if max_contacts < 0 or max_contacts > MAX_SLICE:
        raise BatchError("max_contacts", f"{max_contacts} is not within 0..{MAX_SLICE}")
    return max_contacts or DEFAULT_SLICE


@dataclass
class Checkpoint:
    """How far a job got. `cursor` is the page token of the page being worked on ("" the first)."""

    total: int
    cursor: str = ""
    done_in_page: list[str] = field(default_factory=list)
    processed: int = 0
    without_messages: int = 0
    #: Contacts a compliance rule kept from analysis (e.g. no consent to it): done, nothing published.
    refused: int = 0
    finished: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "cursor": self.cursor,
            "done_in_page": self.done_in_page,
            "processed": self.processed,
            "without_messages": self.without_messages,
            "refused": self.refused,
            "finished": self.finished,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Checkpoint:
        return cls(
            total=int(data["total"]),
            cursor=str(data.get("cursor", "")),
            done_in_page=list(data.get("done_in_page", [])),
            processed=int(data.get("processed", 0)),
            without_messages=int(data.get("without_messages", 0)),
            refused=int(data.get("refused", 0)),
            finished=bool(data.get("finished", False)),
        )


@dataclass(frozen=True)
class Turn:
    """One message of a finished contact as the event stream kept it."""

    speaker: str  # "customer", "agent" or "bot"
    text: str
    brand_id: str = ""
    #: Who wrote it (customer messages): whose consent a compliance rule may ask for.
    customer_id: str = ""


@dataclass(frozen=True)
class MessageInsight:
    """What the pipeline found in one customer message (the text already redacted)."""

    redacted_text: str
    intent: str
    intent_confidence: float
    out_of_scope: bool
    intent_model_version: str
    language: str
    sentiment: float
    escalation_score: float
    entity_kinds: tuple[str, ...]


@dataclass(frozen=True)
class Reanalysis:
    tenant_id: str
    brand_id: str
    contact_id: str
    job_id: str
    steps: tuple[str, ...]
    messages: int
    intent: str = ""
    intent_confidence: float = 0.0
    intent_model_version: str = ""
    language: str = ""
    sentiment: float = 0.0
    summary: str = ""
    tags: tuple[str, ...] = ()
    redacted_kinds: tuple[str, ...] = ()

    @property
    def event_id(self) -> str:
        """Fixed by the job and the contact: a result published again is the same event."""
        return stable_event_id("contact-reanalysed", self.tenant_id, self.job_id, self.contact_id)


def conversation_intent(insights: Sequence[MessageInsight]) -> MessageInsight | None:
    """The message that says what the contact was about: the first one in scope (customers state
    their reason early), else the most confident."""
    for found in insights:
        if found.intent and not found.out_of_scope:
            return found
    return max(insights, key=lambda f: f.intent_confidence, default=None)


def contact_tags(intent: str, sentiment: float, escalation: float, kinds: Sequence[str]) -> tuple[str, ...]:
    tags: list[str] = []
    if intent:
        tags.append(intent)
    if sentiment <= -SENTIMENT_TAG_THRESHOLD:
        tags.append("negative")
    elif sentiment >= SENTIMENT_TAG_THRESHOLD:
        tags.append("positive")
    if escalation >= ESCALATION_TAG_THRESHOLD:
        tags.append("escalation")
    tags.extend(f"pii:{kind}" for kind in sorted(set(kinds)))
    return tuple(tags)


def reanalysis(
    job: BatchJob, contact_id: str, brand_id: str, insights: Sequence[MessageInsight], summary: str
) -> Reanalysis:
    """The contact's result from its customer messages' insights, holding only the job's steps."""
    if not insights:
        return Reanalysis(job.tenant_id, brand_id, contact_id, job.job_id, job.steps, 0)
    chosen = conversation_intent(insights)
    assert chosen is not None
    sentiment = sum(f.sentiment for f in insights) / len(insights)
    kinds = sorted({k for f in insights for k in f.entity_kinds})
    escalation = max(f.escalation_score for f in insights)
    reclassify = "reclassify" in job.steps
    return Reanalysis(
        tenant_id=job.tenant_id,
        brand_id=brand_id,
        contact_id=contact_id,
        job_id=job.job_id,
        steps=job.steps,
        messages=len(insights),
        intent=chosen.intent if reclassify else "",
        intent_confidence=chosen.intent_confidence if reclassify else 0.0,
        intent_model_version=chosen.intent_model_version if reclassify else "",
        language=chosen.language,
        sentiment=sentiment,
        summary=summary if "summarise" in job.steps else "",
        tags=contact_tags(chosen.intent, sentiment, escalation, kinds) if "tag" in job.steps else (),
        redacted_kinds=tuple(kinds) if "redact" in job.steps else (),
    )
