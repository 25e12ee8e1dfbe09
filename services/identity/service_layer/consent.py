"""Give, withdraw and read consent: validate, append one record, announce it (ConsentChanged)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from identity.domain.consent import (
    ConsentRecord,
    check_purpose,
    check_record_id,
    check_text,
    current,
)


class ConsentRecords(Protocol):
    """A customer's consent records (`ConsentStore`)."""

    async def append(self, scope: str, record: ConsentRecord) -> tuple[ConsentRecord, bool]: ...
    async def history(self, scope: str, customer_id: str) -> list[ConsentRecord]: ...
    async def standing(self, scope: str, customer_id: str) -> dict[str, bool]: ...


class ConsentAnnouncer(Protocol):
    """Publishes ConsentChanged for a record (idempotent: the event id derives from the record)."""

    async def changed(self, tenant_id: str, brand_id: str, record: ConsentRecord) -> None: ...


@dataclass(frozen=True)
class ConsentChange:
    """What a RecordConsent or WithdrawConsent asks, as the caller sent it."""

    customer_id: str
    purpose: str
    granted: bool
    channel: int = 0
    policy_version: str = ""
    source: str = ""
    contact_id: str = ""
    record_id: str = ""


async def change_consent(
    records: ConsentRecords,
    announcer: ConsentAnnouncer,
    change: ConsentChange,
    *,
    tenant_id: str,
    brand_id: str,
    scope: str,
    recorded_by: str,
    clock: Callable[[], float] = time.time,
) -> tuple[ConsentRecord, bool]:
    """The stored record and whether it is new. Raises InvalidConsent naming a bad field."""
    purpose = check_purpose(change.purpose)
    record = ConsentRecord(
        record_id=check_record_id(change.record_id) or uuid.uuid4().hex,
        customer_id=change.customer_id,
        purpose=purpose.value,
        granted=change.granted,
        channel=change.channel,
        at=clock(),
        policy_version=check_text(change.policy_version, "policy_version"),
        source=check_text(change.source, "source", required=True),
        recorded_by=recorded_by,
        contact_id=check_record_id(change.contact_id, "contact_id"),
    )
    stored, recorded = await records.append(scope, record)
    # Also for a repeat: the first try may have stored the record and failed before announcing it.
    await announcer.changed(tenant_id, brand_id, stored)
    return stored, recorded


async def consent_history(
    records: ConsentRecords, scope: str, customer_id: str
) -> tuple[list[ConsentRecord], dict[str, bool]]:
    """Every record, oldest first, and what stands now per purpose."""
    history = await records.history(scope, customer_id)
    return history, current(history)


async def standing_consent(records: ConsentRecords, scope: str, customer_id: str) -> dict[str, bool]:
    """What stands now per purpose, without reading the history."""
    return await records.standing(scope, customer_id)
