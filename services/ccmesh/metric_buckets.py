"""Bucket bounds (seconds) of the platform's request-duration histograms, one list for all.

The semantic conventions' recommended bounds for `http.server.request.duration` and the RPC
durations, with finer buckets below 5 ms, where most mesh and webhook requests end; one list,
so the same quantile means the same resolution on every dashboard.
"""

from __future__ import annotations

REQUEST_DURATION_BUCKETS: tuple[float, ...] = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
)
