"""`ccctl integrations ...` against a real nats-server and the integration service (outside local mode)."""

from __future__ import annotations

import asyncio

import pytest
from nats.aio.client import Client as NATS

from ccctl.main import main
from delivery._harness import (
    AUTH_SECRET,
    REGION,
    SECRET,
    InProcessService,
    apply_contact_center,
    service_config,
)


async def test_create_list_dlq_and_delete_through_ccctl(
    nc: NATS, nats_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CC_AUTH_SECRET", AUTH_SECRET)
    monkeypatch.setenv("WEBHOOK_SECRET", SECRET)
    await apply_contact_center(nc)
    service = InProcessService(service_config(nats_url, local_mode=False))
    await service.wait_ready(nc)
    capsys.readouterr()

    async def ccctl(*args: str) -> tuple[int, str, str]:
        argv = ["integrations", *args, "--tenant", "acme", "--nats-url", nats_url, "--region", REGION]
        code = await asyncio.to_thread(main, argv)
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    try:
        url = ("--url", "https://crm.example.com/h")
        code, _, err = await ccctl("create", "acme-crm", *url, "--filter", "a ==")
        assert code == 1
        assert "spec.filter: CEL expression does not compile" in err
        code, _, err = await ccctl("create", "acme-crm", "--url", "http://crm.example.com/h")
        assert code == 1
        assert "spec.url: scheme must be https, got 'http'" in err
        monkeypatch.delenv("WEBHOOK_SECRET")
        code, _, err = await ccctl("create", "acme-crm", *url)
        assert (code, "no signing secret: set WEBHOOK_SECRET" in err) == (2, True)
        monkeypatch.setenv("WEBHOOK_SECRET", SECRET)

        code, out, err = await ccctl("create", "acme-crm", *url, "--events", "contact_closed")
        assert code == 0, err
        assert "webhooksubscription/acme-crm created" in out
        assert SECRET not in out + err
        code, out, err = await ccctl("create", "acme-other", *url, "--generate-secret")
        assert code == 0, err
        assert "signing secret (shown once): whsec_" in out

        code, out, err = await ccctl("list")
        assert code == 0, err
        assert "acme-crm" in out and "contact_closed" in out and "acme-other" in out
        assert "whsec_" not in out

        code, _, err = await ccctl("dlq", "list", "acme-crm")
        assert (code, "No dead letters" in err) == (0, True)
        code, out, err = await ccctl("dlq", "replay", "acme-crm")
        assert code == 0, err
        assert "replayed 0 event(s); 0 still failing" in out

        assert (await ccctl("delete", "acme-crm"))[0] == 0
        code, _, err = await ccctl("delete", "acme-crm")
        assert (code, "not found" in err) == (1, True)
    finally:
        await service.stop()
