"""Which bucket a request spends, and when: only verified callers spend their endpoint's.

A route that proves its caller (a provider signature, a bearer token) is declared with
`@verifies_caller`; its handler calls `admit_verified(request)` right after the proof and
before any work. Only then does the request spend a token of its endpoint's (or tenant's)
bucket, so a flood of unsigned requests cannot use up what the real provider is allowed.
A request to such a route that ends without proving its caller spends instead its source's
small budget for unverified requests; once that is empty, the source is answered 429 too.

Routes that prove no caller (the chat page and socket) spend their endpoint's bucket before
their handler runs.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from aiohttp import web

from gateway.domain.rate_limit import RateLimiter

HandlerT = TypeVar("HandlerT", bound=Callable[..., object])

_VERIFYING: weakref.WeakSet[Callable[..., object]] = weakref.WeakSet()


def verifies_caller(handler: HandlerT) -> HandlerT:
    """Marks a route handler that checks who calls and then calls `admit_verified`."""
    _VERIFYING.add(handler)
    return handler


def proves_its_caller(request: web.Request) -> bool:
    handler = request.match_info.handler
    # A method route is registered bound; the mark is on its function.
    return getattr(handler, "__func__", handler) in _VERIFYING


class RateLimited(Exception):
    """An empty bucket; `retry_after` is in whole seconds (at least 1)."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


@dataclass(frozen=True)
class Bucket:
    key: str
    per_second: float
    burst: int


class Admission:
    """A request's pending charge on its bucket, made once its caller is verified."""

    def __init__(self, limiter: RateLimiter, bucket: Bucket) -> None:
        self._limiter = limiter
        self.bucket = bucket
        self.charged = False

    def charge(self) -> None:
        if self.charged:
            return
        self.charged = True
        spend(self._limiter, self.bucket)


def spend(limiter: RateLimiter, bucket: Bucket) -> None:
    wait = limiter.retry_after(bucket.key, bucket.per_second, bucket.burst, time.monotonic())
    if wait:
        raise RateLimited(
            f"rate limit of {bucket.per_second:g} requests/s (burst {bucket.burst}) exceeded for "
            f"{bucket.key[:240]}; retry after {wait}s",
            wait,
        )


ADMISSION = web.RequestKey("cc.admission", Admission)


def admit_verified(request: web.Request) -> None:
    """The caller is proven: spend a token of its endpoint's or tenant's bucket (429 if none)."""
    admission = request.get(ADMISSION)
    if admission is not None:
        admission.charge()
