"""One level-based pass over a ContactCenter: read the resource, converge its objects, write status.

Every trigger (create, update, resume, the resync timer) runs this same pass; it does not care what
changed, only what is there now versus what the spec asks for.
"""

from __future__ import annotations

import datetime
import logging
import secrets
from collections.abc import Callable
from typing import Any, cast

import kopf

from ccmesh.configplane.models import ContactCenter
from ccoperator import labels
from ccoperator.builders import BuildSettings, DesiredObject, Owner, build_desired, switched_off_services
from ccoperator.converge import ConvergeReport, converge
from ccoperator.kube.resources import KINDS
from ccoperator.nats_health import CONDITION as MESH_CONDITION
from ccoperator.nats_health import NATS_ERROR, NOT_OBSERVED, MeshHealth, MeshUnhealthyError
from ccoperator.prune import prune
from ccoperator.runtime import Runtime
from ccoperator.spec import SpecError, parse_contactcenter
from ccoperator.status import Observation, ServiceReplicas, build_status, replicas_of

CR_KIND = KINDS[labels.KIND]


def _event_target(body: dict[str, Any]) -> kopf.Body:
    return kopf.Body(cast(kopf.RawBody, body))


def utc_now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _mesh_message(status: dict[str, Any]) -> str:
    for condition in status.get("conditions") or []:
        if condition.get("type") == MESH_CONDITION and condition.get("status") == "False":
            return str(condition.get("message", ""))
    return ""


def _degraded_message(status: dict[str, Any]) -> str:
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Degraded" and condition.get("status") == "True":
            return str(condition.get("message", ""))
    return ""


async def _observe_nats(
    runtime: Runtime, cc: ContactCenter
) -> tuple[dict[str, Any], str, list[str], MeshHealth]:
    """The `status.nats` stanza, an error message, notes and the mesh's health; never raises
    (status must still be written)."""
    if runtime.dataplane is None:
        return {}, "", ["NATS is not managed by this operator (CCOP_MANAGE_NATS=false)"], NOT_OBSERVED
    url = cc.spec.nats.url or runtime.config.nats_url
    try:
        observed = await runtime.dataplane.ensure(cc, url)
    except MeshUnhealthyError as unhealthy:
        return {}, unhealthy.message, [], unhealthy.health
    except Exception as error:  # any NATS failure is reported in status, then retried next pass
        message = f"NATS at {url}: {type(error).__name__}: {error}"
        return {}, message, [], MeshHealth(False, NATS_ERROR, message)
    return observed.stanza, "", [], observed.health


async def _apply(
    runtime: Runtime, cc: ContactCenter, owner: Owner
) -> tuple[list[DesiredObject], ConvergeReport]:
    settings = BuildSettings(
        image=runtime.config.service_image,
        nats_url=runtime.config.nats_url,
        otel_endpoint=runtime.config.otel_endpoint,
        traces_sampler=runtime.config.traces_sampler,
        traces_sampler_arg=runtime.config.traces_sampler_arg,
        keda_available=await runtime.keda_available(),
        new_auth_secret=secrets.token_urlsafe(32),
    )
    desired = build_desired(cc, owner, settings)
    report = await converge(runtime.kube, desired)
    # After converging, so a replacement autoscaler exists before the old one goes.
    runtime.known_objects[owner.uid] = await prune(
        runtime.kube, owner, desired, report, runtime.known_objects.get(owner.uid), settings.keda_available
    )
    return desired, report


def _unchanged(status: dict[str, Any], previous: dict[str, Any]) -> bool:
    """Writing `status` as a merge patch would change nothing (keys it lacks are left as they are)."""
    return all(previous.get(key) == value for key, value in status.items())


def _observe_services(name: str, cc: ContactCenter, report: ConvergeReport) -> dict[str, ServiceReplicas]:
    off = switched_off_services(cc)
    return {
        service: ServiceReplicas(ready=0, desired=0)
        if service in off
        else replicas_of(report.actual.get(f"Deployment/{labels.object_name(name, service)}"))
        for service in labels.SERVICES
    }


async def reconcile(
    runtime: Runtime,
    namespace: str,
    name: str,
    logger: logging.Logger,
    still_needed: Callable[[], bool] | None = None,
) -> dict[str, Any] | None:
    """Run one pass; returns the status computed, or None when the resource is gone or going.

    `still_needed` is asked once the pass may start: a trigger that waited while another pass ran
    may find that pass already saw what it was about (None: always run). Triggers arriving while
    one waits join it: the pass runs if any of them still needs it.
    """
    key = f"{namespace}/{name}"
    if key in runtime.waiting:
        runtime.waiting[key].append(still_needed)
        return None
    runtime.waiting[key] = [still_needed]
    try:
        await runtime.locks[key].acquire()
    finally:
        checks = runtime.waiting.pop(key)
    try:
        if all(check is not None and not check() for check in checks):
            return None
        return await _reconcile_locked(runtime, namespace, name, logger)
    finally:
        runtime.locks[key].release()


async def _reconcile_locked(
    runtime: Runtime, namespace: str, name: str, logger: logging.Logger
) -> dict[str, Any] | None:
    # Re-read under the lock: the caller's body may predate the status the previous pass wrote.
    body = await runtime.kube.get(CR_KIND, namespace, name)
    if body is None or body.get("metadata", {}).get("deletionTimestamp"):
        return None
    metadata = body["metadata"]
    generation = int(metadata.get("generation") or 0)
    previous: dict[str, Any] = body.get("status") or {}
    now = utc_now()
    try:
        cc = parse_contactcenter(body)
    except SpecError as error:
        status = build_status(Observation(generation=generation, now=now, invalid_spec=str(error)), previous)
        if not _unchanged(status, previous):
            await runtime.kube.merge_patch(CR_KIND, namespace, name, {"status": status}, subresource="status")
        if _degraded_message(previous) != _degraded_message(status):
            kopf.warn(_event_target(body), reason="InvalidSpec", message=str(error))
        logger.warning("invalid spec, nothing changed: %s", error)
        return status
    owner = Owner(name=name, namespace=namespace, uid=str(metadata.get("uid", "")))
    desired, report = await _apply(runtime, cc, owner)
    nats_status, nats_error, nats_notes, nats_health = await _observe_nats(runtime, cc)
    # Changes at an already-applied generation were not asked for: someone edited or deleted them.
    repaired = report.changed if previous.get("observedGeneration") == generation else []
    observation = Observation(
        generation=generation,
        now=now,
        services=_observe_services(name, cc, report),
        nats_error=nats_error,
        nats=nats_status,
        nats_health=nats_health,
        changed=report.changed,
        repaired=repaired,
        pruned=report.pruned,
        notes=[note for d in desired for note in d.notes]
        + [f"{service}: switched off in this region (replicas 0)" for service in switched_off_services(cc)]
        + nats_notes,
    )
    status = build_status(observation, previous)
    runtime.observed[f"{namespace}/{name}"] = {
        s: (r.ready, r.desired) for s, r in observation.services.items()
    }
    runtime.handled_generation[f"{namespace}/{name}"] = generation
    # A pass that changes nothing writes nothing: no request, and no watch event for kopf to process.
    if not _unchanged(status, previous):
        await runtime.kube.merge_patch(CR_KIND, namespace, name, {"status": status}, subresource="status")
    if repaired:
        kopf.info(_event_target(body), reason="Repaired", message="restored: " + ", ".join(repaired))
    if report.pruned:
        kopf.info(_event_target(body), reason="Pruned", message="removed: " + ", ".join(report.pruned))
        logger.info("pruned objects the spec no longer asks for: %s", ", ".join(report.pruned))
    if nats_error and nats_error != _degraded_message(previous):
        kopf.warn(_event_target(body), reason="NatsUnavailable", message=nats_error)
    elif nats_health.healthy is False and nats_health.message != _mesh_message(previous):
        # Placement verdicts (the mesh answers, the data is not where it should be): once per change.
        kopf.warn(_event_target(body), reason=nats_health.reason, message=nats_health.message)
    return status


async def delete_region_data(runtime: Runtime, body: dict[str, Any], logger: logging.Logger) -> list[str]:
    """Honour `deletionPolicy`: Retain keeps the region's data (default), Delete removes it."""
    try:
        cc = parse_contactcenter(body)
    except SpecError:
        logger.info("invalid spec at deletion: nothing was created, nothing to delete")
        return []
    if cc.spec.deletion_policy != "Delete" or runtime.dataplane is None:
        return []
    removed = await runtime.dataplane.delete(cc, cc.spec.nats.url or runtime.config.nats_url)
    logger.info("deletionPolicy Delete: removed %s", ", ".join(removed) or "nothing")
    return removed
