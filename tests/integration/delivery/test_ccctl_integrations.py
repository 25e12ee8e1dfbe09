"""`ccctl integrations ...` against a real nats-server and the integration service as a process."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import nats

from delivery._harness import AUTH_SECRET, REGION, ROOT, SECRET, ServiceProcess, apply_contact_center


def ccctl(nats_url: str, *args: str, secret: str = SECRET) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CC_AUTH_SECRET": AUTH_SECRET, "WEBHOOK_SECRET": secret}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "ccctl.main",
            "integrations",
            *args,
            "--nats-url",
            nats_url,
            "--region",
            REGION,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_create_list_dlq_and_delete_through_ccctl(nats_url: str) -> None:
    async def prepare() -> None:
        nc = await nats.connect(nats_url)
        await apply_contact_center(nc)
        await nc.close()

    asyncio.run(prepare())
    service = ServiceProcess(nats_url, CC_LOCAL_MODE="false")
    try:
        asyncio.run(service.wait_ready())
        common = ("--tenant", "acme")
        bad = ccctl(
            nats_url, "create", "acme-crm", *common, "--url", "https://crm.example.com/h", "--filter", "a =="
        )
        assert bad.returncode == 1
        assert "spec.filter: CEL expression does not compile" in bad.stderr
        no_secret = ccctl(
            nats_url, "create", "acme-crm", *common, "--url", "https://crm.example.com/h", secret=""
        )
        assert no_secret.returncode == 2
        assert "no signing secret" in no_secret.stderr

        created = ccctl(
            nats_url,
            "create",
            "acme-crm",
            *common,
            "--url",
            "https://crm.example.com/h",
            "--events",
            "contact_closed",
        )
        assert created.returncode == 0, created.stderr
        assert "webhooksubscription/acme-crm created" in created.stdout
        assert SECRET not in created.stdout + created.stderr

        listed = ccctl(nats_url, "list", *common)
        assert listed.returncode == 0, listed.stderr
        assert "acme-crm" in listed.stdout and "contact_closed" in listed.stdout
        assert SECRET not in listed.stdout

        dead = ccctl(nats_url, "dlq", "list", "acme-crm", *common)
        assert dead.returncode == 0, dead.stderr
        assert "No dead letters" in dead.stderr
        replay = ccctl(nats_url, "dlq", "replay", "acme-crm", *common)
        assert replay.returncode == 0, replay.stderr
        assert "replayed 0 event(s); 0 still failing" in replay.stdout

        assert ccctl(nats_url, "delete", "acme-crm", *common).returncode == 0
        gone = ccctl(nats_url, "delete", "acme-crm", *common)
        assert gone.returncode == 1
        assert "not found" in gone.stderr
    finally:
        service.terminate()
