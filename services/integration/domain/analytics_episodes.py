"""Surge episodes the analytics store keeps beside the contacts (pure): the times a queue left its
normal (a surge detector's alert, one interval) and the times a fallback policy was engaged (from
engagement to release). One event makes one row, so a row is kept once by its event id.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class EpisodeKind(StrEnum):
    #: A detector's alert: one signal of one queue away from its seasonal normal for an interval.
    ALERT = "alert"
    #: A fallback policy engaged and released again (its actions held in between).
    FALLBACK = "fallback"


@dataclass(frozen=True, slots=True)
class SurgeEpisode:
    event_id: str
    tenant_id: str
    kind: EpisodeKind
    #: The queue (empty: every queue of the tenant together).
    queue: str
    #: Epoch seconds (UTC).
    started_at: float
    ended_at: float
    #: Alerts: the channel ("" every channel), the signal, its value and normal, the robust
    #: z-score and the direction (+1 above normal, -1 below).
    channel: str = ""
    metric: str = ""
    value: float = 0.0
    baseline: float = 0.0
    score: float = 0.0
    direction: int = 0
    #: Fallbacks: the policy, what it did and what failed (in order, comma-separated) and why it
    #: was released ("normal", "manual", "policy_removed").
    policy: str = ""
    actions: str = ""
    failed_actions: str = ""
    reason: str = ""

    @property
    def seconds(self) -> float:
        return max(self.ended_at - self.started_at, 0.0)


def not_yet_kept(episodes: list[SurgeEpisode], kept: set[str]) -> list[SurgeEpisode]:
    """`episodes` whose event ids are not in `kept` (a redelivered event), each id once."""
    fresh: list[SurgeEpisode] = []
    seen = set(kept)
    for episode in episodes:
        if episode.event_id not in seen:
            seen.add(episode.event_id)
            fresh.append(episode)
    return fresh
