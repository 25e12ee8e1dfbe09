"""A write of the gateway's contact store that reached the bucket while its answer was lost (a
stream electing its leader) fails the request, and the request's retry, in the same process,
finds what it wrote its own: the claim is taken over at once (not waited for as another
request's, for the claim expiry), and the contact it opened is still the one it opened.

The bucket is real; only the answer to the next write is dropped after the write landed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from nats.aio.client import Client as NATS
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

from ccmesh.kv import ensure_bucket
from ccmesh.presence import Presence
from gateway.adapters.contact_store import Claim, ContactStore, StillProcessing

#: Far beyond the test: the expiry cannot be what frees a claim.
NEVER_SECONDS = 10_000_000.0
TENANT = "acme"


class AnswerLost:
    """The real bucket; the next `lose` writes land, then raise the timeout of an unanswered
    request (the server stored them, the client never heard). Writes through the bucket's
    JetStream context (`ccmesh.kv.write_expiring`) count too."""

    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv
        self.lose = 0
        self._js = _Publishing(self, kv._js)

    async def _write(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return await self.answer(await getattr(self._kv, name)(*args, **kwargs))

    async def answer(self, written: Any) -> Any:
        if self.lose:
            self.lose -= 1
            raise NatsTimeoutError
        return written

    async def create(self, *args: Any, **kwargs: Any) -> Any:
        return await self._write("create", *args, **kwargs)

    async def update(self, *args: Any, **kwargs: Any) -> Any:
        return await self._write("update", *args, **kwargs)

    async def put(self, *args: Any, **kwargs: Any) -> Any:
        return await self._write("put", *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._kv, name)


class _Publishing:
    def __init__(self, bucket: AnswerLost, js: Any) -> None:
        self._bucket = bucket
        self._js = js

    async def publish(self, *args: Any, **kwargs: Any) -> Any:
        return await self._bucket.answer(await self._js.publish(*args, **kwargs))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._js, name)


@pytest.fixture
async def presence(nc: NATS) -> AsyncIterator[Presence]:
    alive = Presence(nc)
    await alive.start()
    try:
        yield alive
    finally:
        await alive.stop()


@pytest.fixture
async def bucket(nc: NATS) -> AnswerLost:
    return AnswerLost(await ensure_bucket(nc.jetstream(), "gateway-unanswered"))


@pytest.fixture
def store(bucket: AnswerLost, presence: Presence) -> ContactStore:
    return ContactStore(bucket, holders=presence, claim_expiry=NEVER_SECONDS)  # type: ignore[arg-type]


async def test_a_claim_whose_answer_was_lost_is_taken_by_the_requests_retry(
    bucket: AnswerLost, store: ContactStore
) -> None:
    bucket.lose = 1
    with pytest.raises(NatsTimeoutError):
        await store.claim_message(TENANT, "lost-answer")
    claim = await store.claim_message(TENANT, "lost-answer")
    assert claim.previous is None
    # The retry's claim is live again: a concurrent repeat of the message waits for it.
    with pytest.raises(StillProcessing):
        await store.claim_message(TENANT, "lost-answer")


async def test_a_claim_whose_release_timed_out_is_taken_by_the_providers_retry(
    bucket: AnswerLost, store: ContactStore
) -> None:
    claim = await store.claim_message(TENANT, "release-lost")
    bucket.lose = 1
    with pytest.raises(NatsTimeoutError):
        await store.release(claim)
    again = await store.claim_message(TENANT, "release-lost")
    assert again.previous is None and again.revision > claim.revision


async def test_a_claim_whose_release_never_reached_the_bucket_is_taken_all_the_same(
    bucket: AnswerLost, store: ContactStore
) -> None:
    claim = await store.claim_message(TENANT, "release-unsent")
    stale = Claim(claim.key, claim.revision + 1000, None)  # a release that cannot land
    await store.release(stale)  # refused by the revision: nothing of ours removed
    with pytest.raises(StillProcessing):
        await store.claim_message(TENANT, "release-unsent")
    bucket.lose = 1
    with pytest.raises(NatsTimeoutError):
        # Lands (the claim is removed) and the answer is lost: the key is free either way.
        await store.release(claim)
    with pytest.raises(KeyNotFoundError):
        await bucket.get(claim.key)
    assert (await store.claim_message(TENANT, "release-unsent")).previous is None


async def test_a_pending_claim_of_a_running_request_still_waits(store: ContactStore) -> None:
    await store.claim_message(TENANT, "running")
    with pytest.raises(StillProcessing):
        await store.claim_message(TENANT, "running")


async def test_the_contact_a_failed_request_opened_is_opened_by_its_retry(
    bucket: AnswerLost, store: ContactStore
) -> None:
    bucket.lose = 1
    with pytest.raises(NatsTimeoutError):
        await store.open_contact(TENANT, "cust-9")
    contact_id, created = await store.open_contact(TENANT, "cust-9")
    assert created, "the retry opened the contact: it announces it"
    # Another message of the customer joins it.
    assert await store.open_contact(TENANT, "cust-9") == (contact_id, False)
    stored = await bucket.get(f"open.{TENANT}.cust-9")
    assert (stored.value or b"").decode() == contact_id
