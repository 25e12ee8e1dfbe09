"""Create, update, resume and the resync loop all run the same level-based pass."""

from __future__ import annotations

import logging

import kopf

from ccoperator.kube.client import KubeApiError
from ccoperator.reconcile import reconcile
from ccoperator.runtime import Runtime

log = logging.getLogger("ccoperator")


async def handle_reconcile_contactcenter(
    runtime: Runtime, namespace: str, name: str, generation: int | None = None
) -> None:
    """A pass for `generation` (of the body kopf saw), unless a pass has applied it meanwhile."""
    key = f"{namespace}/{name}"

    def still_needed() -> bool:
        return generation is None or runtime.handled_generation.get(key) != generation

    try:
        await reconcile(runtime, namespace, name, log, still_needed)
    except (TimeoutError, KubeApiError, OSError) as error:
        # The API server is busy or unreachable: kopf retries with back-off.
        raise kopf.TemporaryError(f"reconciling {namespace}/{name}: {error}", delay=2) from error


async def handle_resync_contactcenter(
    runtime: Runtime, namespace: str, name: str, stopped: kopf.DaemonStopped
) -> None:
    """Re-check actual state forever: a deleted or hand-edited object comes back within one interval."""
    # A pass first, then every interval: the daemon starts with the resource, so a new ContactCenter
    # is served at once even when kopf's create handler waits for a consistent resourceVersion.
    while not stopped:
        try:
            await reconcile(runtime, namespace, name, log)
        except (TimeoutError, KubeApiError, OSError) as error:
            log.warning("resync of %s/%s failed, retrying next interval: %s", namespace, name, error)
        await stopped.wait(runtime.config.resync_seconds)
