"""The inbound actions API over HTTP(S): idempotency keys, tokens, and TLS outside local mode."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from pathlib import Path

import aiohttp
import pytest
from nats.aio.client import Client as NATS

from ccmesh.auth import TokenAuthority
from ccmesh.config import ConfigError, load_config
from delivery._harness import (
    AUTH_SECRET,
    REGION,
    InProcessService,
    apply_contact_center,
    free_port,
    service_config,
)
from integration.config import IntegrationConfig


def token(role: str = "integration", tenant: str = "acme") -> str:
    return TokenAuthority(AUTH_SECRET).mint(tenant, role, f"crm-{role}", 300)


async def test_http_action_with_a_repeated_idempotency_key_applies_once(nc: NATS, nats_url: str) -> None:
    await apply_contact_center(nc)
    port = free_port()
    running = InProcessService(service_config(nats_url, actions_http_port=port))
    try:
        await running.wait_ready(nc)
        url = f"http://127.0.0.1:{port}/v1/tenants/acme/actions/flow-events"
        body = {"contactId": "c7", "eventName": "payment_confirmed", "data": {"amount": "12.50"}}
        headers = {"Authorization": f"Bearer {token()}", "Idempotency-Key": "pay-7"}
        async with aiohttp.ClientSession() as http:
            async with http.post(url, json=body, headers=headers) as first:
                assert first.status == 200, await first.text()
                first_body = await first.json()
            async with http.post(url, json=body, headers=headers) as again:
                again_body = await again.json()
            async with http.post(url, json={**body, "eventName": "other"}, headers=headers) as conflict:
                assert conflict.status == 409
                assert (await conflict.json())["code"] == "ALREADY_EXISTS"
            async with http.post(url, json=body, headers={"Idempotency-Key": "pay-8"}) as anonymous:
                assert anonymous.status == 401
            admin = {"Authorization": f"Bearer {token('admin')}", "Idempotency-Key": "pay-9"}
            async with http.post(url, json=body, headers=admin) as refused:
                assert refused.status == 403
            other = {"Authorization": f"Bearer {token(tenant='globex')}", "Idempotency-Key": "pay-10"}
            async with http.post(url, json=body, headers=other) as foreign:
                assert foreign.status == 403
            async with http.post(url, data=b"{not json", headers=headers) as bad:
                assert bad.status == 400
                assert "SendFlowEventRequest" in (await bad.json())["message"]
        assert not first_body["result"].get("replayed", False)
        assert again_body["result"]["replayed"] is True
        assert again_body["result"]["actionId"] == first_body["result"]["actionId"]
        actions = await nc.jetstream().stream_info(f"actions-{REGION}")
        assert actions.state.messages == 1
    finally:
        await running.stop()


def test_the_actions_api_needs_tls_outside_local_mode() -> None:
    environ = {"CC_AUTH_SECRET": AUTH_SECRET, "CC_ACTIONS_HTTP_PORT": "0"}
    with pytest.raises(ConfigError) as raised:
        load_config(IntegrationConfig, environ=environ)
    assert "CC_ACTIONS_TLS_CERT_FILE" in str(raised.value)
    assert load_config(IntegrationConfig, environ={**environ, "CC_LOCAL_MODE": "true"}).local_mode


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, made with the openssl CLI."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl CLI to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    command = (
        "req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1"
    )
    subprocess.run(
        ["openssl", *command.split(), "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    return cert, key


async def test_https_actions_api_with_a_certificate(
    nc: NATS, nats_url: str, certificate: tuple[Path, Path]
) -> None:
    cert, key = certificate
    await apply_contact_center(nc)
    port = free_port()
    config = service_config(
        nats_url,
        local_mode=False,
        actions_http_port=port,
        actions_tls_cert_file=str(cert),
        actions_tls_key_file=str(key),
    )
    running = InProcessService(config)
    try:
        await running.wait_ready(nc)
        trust = ssl.create_default_context(cafile=str(cert))
        body = {"contactId": "c9", "outcome": "resolved"}
        headers = {"Authorization": f"Bearer {token()}", "Idempotency-Key": "close-9"}
        async with aiohttp.ClientSession() as http:
            url = f"https://127.0.0.1:{port}/v1/tenants/acme/actions/close-contact"
            async with http.post(url, json=body, headers=headers, ssl=trust) as reply:
                assert reply.status == 200, await reply.text()
            with pytest.raises(aiohttp.ClientError):
                async with http.post(url.replace("https", "http"), json=body, headers=headers):
                    pass
    finally:
        await running.stop()
