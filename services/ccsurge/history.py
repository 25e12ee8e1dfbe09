"""A signal's past, rebuilt from what happened: timestamps binned into interval counts.

A detector learns its seasonal baseline from observations; where the past is known only as
events (each contact's arrival), they become observations here: one count per interval,
zeros included (a quiet interval is an observation too).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np


class PastArrival(NamedTuple):
    """One contact's arrival in a queue, as the region's history tells it."""

    tenant_id: str
    queue: str
    channel: str
    at: float


def interval_counts(
    times: Sequence[float] | np.ndarray, start: float, end: float, interval_seconds: float
) -> tuple[np.ndarray, np.ndarray]:
    """(interval end times, counts) of `times` in the intervals (start, start + interval], ...
    up to `end`; `start` and `end` are interval boundaries. Times outside are left out."""
    if interval_seconds <= 0:
        raise ValueError(f"interval_seconds must be > 0, got {interval_seconds}")
    intervals = max(0, math.floor((end - start) / interval_seconds + 1e-9))
    ends = start + interval_seconds * np.arange(1, intervals + 1, dtype=np.float64)
    if not intervals:
        return ends, np.zeros(0)
    at = np.asarray(times, dtype=np.float64)
    # An arrival exactly at an interval's end belongs to that interval, as the live count has it.
    index = np.ceil((at - start) / interval_seconds).astype(np.int64) - 1
    inside = (index >= 0) & (index < intervals)
    counts = np.bincount(index[inside], minlength=intervals).astype(np.float64)
    return ends, counts
