"""kmock, made a little more like a real API server, and helpers to run the operator against it.

kmock stores objects as given. kopf relies on a few things a real API server does, so this emulator
adds them: `resourceVersion` bumped on every write, `generation` bumped when `spec` changes, `uid` and
`creationTimestamp` on create, names for `generateName` (kopf's Events), and HTTP 422 when a JSON
patch's `test` on resourceVersion fails (kopf's optimistic concurrency). It also forgets old requests,
which kmock otherwise re-scans on every new one. For the benchmark it counts requests by client
(User-Agent: kopf, the operator's own client, anything else) and times how long it spends serving
them. Still no schema validation,
defaulting, garbage collection or controllers: tests simulate ready replicas themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import itertools
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import aiohttp.web
import attrs
import kmock
from kmock._internal import dsl, enums, rendering

from ccoperator import labels
from ccoperator.nats_health import MeshHealth, MeshObserved

CR_RESOURCE = f"{labels.CR_API_VERSION}/{labels.PLURAL}"
DEPLOYMENTS = "apps/v1/deployments"
KEPT_REQUESTS = 1


def client_of(request: rendering.Request) -> str:
    """Who sent a request: kopf's framework, the operator's own `KubeClient`, or anything else."""
    agent = str(request.headers.get("User-Agent", ""))
    if agent.startswith("kopf"):
        return "kopf"
    if agent.startswith("ccoperator"):
        return "ccoperator"
    return "other"


@attrs.define(kw_only=True)
class ApiServerEmulator(kmock.KubernetesEmulator):
    _versions: Iterator[int] = attrs.field(factory=lambda: itertools.count(1000), init=False)
    #: Requests served, by (client, action, resource plural); watches included, as one each.
    request_counts: Counter[tuple[str, str, str]] = attrs.field(factory=Counter, init=False)
    #: Time spent serving requests other than watches (a watch lasts as long as its stream).
    served_seconds: float = attrs.field(default=0.0, init=False)
    served_requests: int = attrs.field(default=0, init=False)

    async def _handle(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        action = request.action.value if request.action is not None else str(request.method.value)
        plural = request.resource.plural if request.resource is not None else ""
        self.request_counts[client_of(request), action, plural or ""] += 1
        if request.action == enums.action.WATCH:
            return await self._handle_untimed(request)
        started = time.perf_counter()
        try:
            return await self._handle_untimed(request)
        finally:
            self.served_seconds += time.perf_counter() - started
            self.served_requests += 1

    async def _handle_untimed(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        # kmock keeps every request for assertions and matches each new one against that history,
        # which makes a long run quadratic; these tests assert on objects, so keep only the current one.
        if len(self._requests) > KEPT_REQUESTS:
            del self._requests[:-KEPT_REQUESTS]
            for payload in self._payloads:
                for reaction in payload._walk(dsl.Reaction):
                    del reaction._requests[:-KEPT_REQUESTS]
        if request.resource is not None:
            if request.action == enums.action.CREATE and isinstance(request.data, dict):
                self._on_create(request.data)
            elif request.action == enums.action.UPDATE and request.name is not None:
                self._on_update(request)
        return await super()._handle(request)

    # kmock finds an object by scanning them all; with thousands of objects that dominates a
    # benchmark, so single-object reads and writes look the key up directly.
    def _lookup(self, request: rendering.Request, name: str | None = None) -> Any:
        key = (request.resource, request.namespace, name or request.name)
        try:
            found = self.objects[key]  # type: ignore[index]
        except KeyError:
            raise kmock.KubernetesObjectNotFoundError() from None
        return found

    async def _serve_fetch(self, request: rendering.Request) -> rendering.Payload:
        found = self._lookup(request)
        if found.deleted:
            raise kmock.KubernetesObjectNotFoundError()
        return found.raw  # type: ignore[no-any-return]

    async def _serve_create(self, request: rendering.Request) -> rendering.Payload:
        name = (request.data or {}).get("metadata", {}).get("name")
        namespace = request.namespace or (request.data or {}).get("metadata", {}).get("namespace")
        key = (request.resource, namespace, name)
        return self.objects[key].raw  # type: ignore[index]

    async def _serve_update(self, request: rendering.Request) -> rendering.Payload:
        return self._lookup(request).last.raw  # type: ignore[no-any-return]

    async def _serve_delete(self, request: rendering.Request) -> rendering.Payload:
        return self._lookup(request).last.raw  # type: ignore[no-any-return]

    def _on_create(self, data: dict[str, Any]) -> None:
        meta = data.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = f"{meta['generateName']}{uuid.uuid4().hex[:8]}"
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault(
            "creationTimestamp", datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        )
        meta["generation"] = 1
        meta["resourceVersion"] = str(next(self._versions))

    def _current(self, request: rendering.Request) -> Any:
        if request.resource is None or request.name is None:
            return None
        key = (request.resource, request.namespace, request.name)
        if key in self.objects and not self.objects[key].deleted:
            return self.objects[key]
        return None

    def _on_update(self, request: rendering.Request) -> None:
        current = self._current(request)
        if current is None:
            return
        meta = current.get("metadata", {})
        version = str(next(self._versions))
        if isinstance(request.data, list):
            stale = [
                op
                for op in request.data
                if op.get("op") == "test"
                and op.get("path") == "/metadata/resourceVersion"
                and op.get("value") != meta.get("resourceVersion")
            ]
            if stale:
                raise kmock.KubernetesError(status=422, reason="Invalid", message="resourceVersion conflict")
            request.data.append({"op": "add", "path": "/metadata/resourceVersion", "value": version})
            if request.subresource != "status" and any(
                op.get("path", "").startswith("/spec") for op in request.data
            ):
                generation = int(meta.get("generation", 1)) + 1
                request.data.append({"op": "add", "path": "/metadata/generation", "value": generation})
        elif isinstance(request.data, dict):
            patch_meta = request.data.setdefault("metadata", {})
            patch_meta["resourceVersion"] = version
            if request.subresource != "status" and "spec" in request.data:
                patch_meta["generation"] = int(meta.get("generation", 1)) + 1


def declare_resources(cluster: kmock.KubernetesEmulator, keda: bool = False) -> None:
    """Built-in kinds, the ContactCenter CRD's resource, and (optionally) KEDA's."""
    cluster.resources.load_bundled()
    cluster.resources[CR_RESOURCE] = kmock.ResourceInfo(
        kind=labels.KIND,
        singular="contactcenter",
        namespaced=True,
        verbs={"list", "watch", "get", "patch", "create", "delete"},
        subresources={"status"},
    )
    if keda:
        cluster.resources["keda.sh/v1alpha1/scaledobjects"] = kmock.ResourceInfo(
            kind="ScaledObject",
            singular="scaledobject",
            namespaced=True,
            verbs={"list", "watch", "get", "patch", "create", "delete"},
        )
        crd = "apiextensions.k8s.io/v1/customresourcedefinitions"
        cluster.objects[crd, None, "scaledobjects.keda.sh"] = {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "scaledobjects.keda.sh", "resourceVersion": "1"},
            "spec": {
                "group": "keda.sh",
                "scope": "Namespaced",
                "names": {"kind": "ScaledObject", "plural": "scaledobjects", "singular": "scaledobject"},
                "versions": [{"name": "v1alpha1", "served": True, "storage": True}],
            },
        }


def contactcenter(name: str, namespace: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": labels.CR_API_VERSION,
        "kind": labels.KIND,
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


class RecordingDataPlane:
    """Stands in for NATS in API-level tests: records what the operator asked for."""

    def __init__(self) -> None:
        self.ensured: list[tuple[str, str]] = []
        self.deleted: list[str] = []

    async def ensure(self, cc: Any, nats_url: str) -> MeshObserved:
        self.ensured.append((cc.spec.region, nats_url))
        stanza = {"placementTag": f"region:{cc.spec.region}", "streams": []}
        # Nothing was placed, so nothing is claimed: the condition says it was only recorded.
        return MeshObserved(stanza, MeshHealth(None, "Recorded", "no NATS in this test: requests recorded"))

    async def delete(self, cc: Any, nats_url: str) -> list[str]:
        self.deleted.append(cc.spec.region)
        return [cc.spec.region]

    async def close(self) -> None:
        return None


async def api(cluster: kmock.KubernetesEmulator, method: str, path: str, body: Any = None) -> Any:
    """A raw API call as `kubectl` would make it (for test actions: create, edit, delete)."""
    headers = {"Content-Type": "application/merge-patch+json"} if method == "PATCH" else {}
    url = f"{cluster.url}{path}"
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, url, json=body, headers=headers) as response,
    ):
        return response.status, await response.json(content_type=None)


async def simulate_ready(cluster: kmock.KubernetesEmulator, namespace: str) -> int:
    """Play the Deployment controller: every Deployment reports all its replicas ready.

    Through the API (the status subresource), so watchers see it as they would in a cluster.
    """
    stale = [
        (name, obj.get("spec", {}).get("replicas", 1))
        for (resource, ns, name), obj in list(cluster.objects.items())
        if ns == namespace and resource.plural == "deployments" and resource.group == "apps"
        if not obj.deleted
        if (obj.get("status") or {}).get("readyReplicas") != obj.get("spec", {}).get("replicas", 1)
    ]
    for name, replicas in stale:
        path = f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}/status"
        await api(cluster, "PATCH", path, {"status": {"readyReplicas": replicas}})
    return len(stale)


def stored_object(
    cluster: kmock.KubernetesEmulator, resource: str, namespace: str, name: str
) -> dict[str, Any] | None:
    """The object as stored now, or None when it does not exist (or is deleted)."""
    try:
        found = cluster.objects[resource, namespace, name]
    except KeyError:
        return None
    return None if found.deleted else dict(found.raw)


def contactcenter_status(cluster: kmock.KubernetesEmulator, namespace: str, name: str) -> dict[str, Any]:
    status: dict[str, Any] = (stored_object(cluster, CR_RESOURCE, namespace, name) or {}).get("status") or {}
    return status


def condition(cluster: kmock.KubernetesEmulator, namespace: str, name: str, kind: str) -> dict[str, Any]:
    """The ContactCenter's condition of type `kind`, or {} when it has none."""
    conditions = contactcenter_status(cluster, namespace, name).get("conditions") or []
    return next((c for c in conditions if c["type"] == kind), {})


async def eventually(check: Callable[[], Any], within: float = 20.0, interval: float = 0.05) -> Any:
    """Poll until `check()` returns something truthy (awaiting it when it is a coroutine)."""
    deadline = asyncio.get_running_loop().time() + within
    last: Any = None
    while True:
        last = check()
        if isinstance(last, Awaitable):
            last = await last
        if last:
            return last
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"condition not met within {within}s (last value: {last!r})")
        await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def running_operator(runtime: Any, namespaces: list[str] | None = None) -> AsyncIterator[None]:
    """Run the real operator (every handler of `ccoperator.main`) in this event loop."""
    import kopf

    from ccoperator import main as handlers

    assert handlers.RESOURCE
    ready = asyncio.Event()
    memo = kopf.Memo(runtime=runtime)
    task = asyncio.create_task(
        kopf.operator(
            memo=memo,
            ready_flag=ready,
            standalone=True,
            clusterwide=not namespaces,
            namespaces=namespaces or [],
        )
    )
    try:
        await asyncio.wait_for(ready.wait(), timeout=20)
        yield
    finally:
        # Cancel rather than set the stop flag: a graceful stop waits 5 s for every task started
        # since the operator began, and that includes the emulator's own keep-alive handlers.
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=20)
        await runtime.close()
