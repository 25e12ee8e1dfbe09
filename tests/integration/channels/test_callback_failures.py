"""Failed call backs kept for the supervisor's board, in a real JetStream bucket."""

from __future__ import annotations

import nats

from ccmesh.kv import ensure_bucket
from gateway.adapters.callback_failures import CallbackFailures


async def test_a_tenants_failed_call_backs_are_listed_oldest_first_and_no_one_elses(nats_url: str) -> None:
    nc = await nats.connect(nats_url)
    try:
        bucket = await ensure_bucket(nc.jetstream(), "gateway-callbacks-test")
        failures = CallbackFailures(bucket)
        assert await failures.of_tenant("acme") == []
        await failures.remember("acme", "c2", {"contactId": "c2", "failedAt": 20.0})
        await failures.remember("acme", "c1", {"contactId": "c1", "failedAt": 10.0})
        await failures.remember("acme-bank", "c3", {"contactId": "c3", "failedAt": 5.0})
        # The same failure remembered again (Twilio repeats a status callback) is listed once.
        await failures.remember("acme", "c1", {"contactId": "c1", "failedAt": 10.0})
        assert [f["contactId"] for f in await failures.of_tenant("acme")] == ["c1", "c2"]
        assert [f["contactId"] for f in await failures.of_tenant("acme-bank")] == ["c3"]
    finally:
        await nc.close()
