"""Deletion: Kubernetes garbage-collects the owned objects; the region's NATS data follows deletionPolicy."""

from __future__ import annotations

import logging
from typing import Any

import kopf

from ccoperator.reconcile import delete_region_data
from ccoperator.runtime import Runtime

log = logging.getLogger("ccoperator")


async def handle_delete_contactcenter(runtime: Runtime, body: dict[str, Any]) -> None:
    try:
        await delete_region_data(runtime, body, log)
    except (OSError, TimeoutError) as error:
        raise kopf.TemporaryError(f"deleting the region's NATS data: {error}", delay=5) from error
    metadata = body.get("metadata") or {}
    runtime.forget(
        str(metadata.get("namespace", "")), str(metadata.get("name", "")), str(metadata.get("uid", ""))
    )
