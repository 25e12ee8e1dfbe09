"""The operator's own API calls: get, create, merge-patch, delete, and the status subresource.

kopf watches ContactCenters and posts events; everything the operator creates goes through here, with
the same credentials kopf logged in with (`kopf.ConnectionInfo`).
"""

from __future__ import annotations

import ssl
import tempfile
from pathlib import Path
from typing import Any

import aiohttp
import kopf
import orjson

from ccoperator.kube.resources import Kind

MERGE_PATCH = "application/merge-patch+json"


class KubeApiError(RuntimeError):
    def __init__(self, status: int, method: str, path: str, body: str) -> None:
        super().__init__(f"{method} {path} -> HTTP {status}: {body[:300]}")
        self.status = status


def _write_temp(data: str | bytes, directory: Path, name: str) -> str:
    path = directory / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return str(path)


def ssl_context(info: kopf.ConnectionInfo) -> ssl.SSLContext | bool:
    if not info.server.startswith("https://"):
        return False
    if info.insecure:
        return False
    context = ssl.create_default_context(cafile=str(info.ca_path) if info.ca_path else None)
    if info.ca_data:
        data = info.ca_data.decode() if isinstance(info.ca_data, bytes) else info.ca_data
        context.load_verify_locations(cadata=data)
    if info.certificate_path or info.certificate_data:
        # ssl wants files for client certificates; kubeconfigs often inline them.
        with tempfile.TemporaryDirectory() as scratch:
            folder = Path(scratch)
            cert = str(info.certificate_path) if info.certificate_path else None
            key = str(info.private_key_path) if info.private_key_path else None
            if cert is None and info.certificate_data:
                cert = _write_temp(info.certificate_data, folder, "cert.pem")
            if key is None and info.private_key_data:
                key = _write_temp(info.private_key_data, folder, "key.pem")
            context.load_cert_chain(str(cert), key)
    return context


class KubeClient:
    def __init__(self, info: kopf.ConnectionInfo, timeout_seconds: float = 30.0) -> None:
        self.info = info
        headers = {"Accept": "application/json", "User-Agent": "ccoperator"}
        if info.token:
            headers["Authorization"] = f"{info.scheme or 'Bearer'} {info.token}"
        auth = aiohttp.BasicAuth(info.username, info.password or "") if info.username else None
        self._session = aiohttp.ClientSession(
            base_url=info.server.rstrip("/"),
            headers=headers,
            auth=auth,
            connector=aiohttp.TCPConnector(ssl=ssl_context(info), limit=32),
            timeout=aiohttp.ClientTimeout(total=timeout_seconds),
            json_serialize=lambda value: orjson.dumps(value).decode(),
        )

    async def close(self) -> None:
        await self._session.close()

    async def _call(
        self, method: str, path: str, body: Any = None, content_type: str = "application/json"
    ) -> dict[str, Any] | None:
        data = None if body is None else orjson.dumps(body)
        headers = {"Content-Type": content_type} if data is not None else {}
        async with self._session.request(method, path, data=data, headers=headers) as response:
            text = await response.text()
            if response.status == 404:
                return None
            if response.status >= 400:
                raise KubeApiError(response.status, method, path, text)
            parsed = orjson.loads(text) if text else {}
            return parsed if isinstance(parsed, dict) else {}

    async def get(self, kind: Kind, namespace: str | None, name: str) -> dict[str, Any] | None:
        return await self._call("GET", kind.item(namespace, name))

    async def exists(self, kind: Kind, namespace: str | None, name: str) -> bool:
        try:
            return await self.get(kind, namespace, name) is not None
        except KubeApiError as error:
            # Forbidden means "not for us to know": treat it as absent rather than failing the pass.
            if error.status == 403:
                return False
            raise

    async def create(self, kind: Kind, namespace: str | None, manifest: dict[str, Any]) -> dict[str, Any]:
        result = await self._call("POST", kind.collection(namespace), manifest)
        if result is None:
            raise KubeApiError(404, "POST", kind.collection(namespace), "collection not found")
        return result

    async def merge_patch(
        self, kind: Kind, namespace: str | None, name: str, patch: dict[str, Any], subresource: str = ""
    ) -> dict[str, Any] | None:
        path = kind.item(namespace, name) + (f"/{subresource}" if subresource else "")
        return await self._call("PATCH", path, patch, MERGE_PATCH)

    async def delete(self, kind: Kind, namespace: str | None, name: str) -> bool:
        return await self._call("DELETE", kind.item(namespace, name)) is not None
