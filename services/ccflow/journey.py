"""A contact's journey through a flow: plain data, stored as JSON between steps.

Everything the executor needs to continue lives here (current node, what it waits for,
attributes, priority, parallel branches still to run), so a journey survives a restart of
the process that runs it and continues on another channel with the same state.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

from ccmesh import channels

Status = Literal["running", "waiting", "ended"]
Waiting = Literal["", "input", "ai", "integration", "callback"]


@dataclass
class Journey:
    journey_id: str
    flow: str
    version: int = 0
    region: str = ""
    channel: str = ""
    brand: str = ""
    language: str = ""
    customer: dict[str, Any] = field(default_factory=dict)
    #: Purpose (recording, transcription, ai_analysis, marketing) -> whether the customer's consent
    #: stands, as identity knew it when the journey started (conditions read `consent.recording`).
    consent: dict[str, bool] = field(default_factory=dict)
    history: dict[str, Any] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)
    priority: int = 0
    intent: str = ""
    sentiment: float = 0.0
    input: str = ""
    #: The customer's message that opened the contact (what its language is told from).
    text: str = ""
    node: str = ""
    status: Status = "running"
    waiting_for: Waiting = ""
    attempt: int = 0
    parallel_join: str = ""
    parallel_pending: list[str] = field(default_factory=list)
    policies_applied: list[str] = field(default_factory=list)
    path: list[str] = field(default_factory=list)
    #: How the journey ended: {"kind": "queue"|"flow"|"end"|"error", ...}; empty while it runs.
    outcome: dict[str, Any] = field(default_factory=dict)
    errors: list[dict[str, str]] = field(default_factory=list)
    #: When a wait stored at an integration node times out (epoch seconds); 0: no such wait. Kept
    #: with the journey so whichever instance of the runner is alive ends the wait, after restarts.
    wait_until: float = 0.0
    #: When the journey started (epoch seconds; 0: unknown, a record from before it was kept) and
    #: the alias it started through: what its end reports (how long it took, which release ran).
    started_at: float = 0.0
    alias: str = ""

    def __post_init__(self) -> None:
        # One spelling per channel for overlays and conditions, whatever the starter sent.
        self.channel = channels.stored_name(self.channel)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Journey:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"journey record has unknown fields {unknown}")
        return cls(**data)

    def context(self) -> dict[str, str]:
        """The selector context that picks overlays."""
        return {
            "region": self.region,
            "brand": self.brand,
            "channel": self.channel,
            "language": self.language,
        }
