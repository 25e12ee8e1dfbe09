"""`ccctl up` points the example endpoints at the provider sandbox it started, wherever it listens."""

from __future__ import annotations

import subprocess
from pathlib import Path

from ccctl.sandbox_process import EXAMPLE_URL, SMTP_PORT, RunningSandbox, at_sandbox
from ccmesh.configplane.loader import load_file
from ccmesh.configplane.models import ChannelEndpoint

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "channels" / "eu.yaml"


def examples() -> dict[str, ChannelEndpoint]:
    return {
        s.document.metadata.name: s.document
        for s in load_file(EXAMPLES)
        if isinstance(s.document, ChannelEndpoint)
    }


def sandbox(url: str, smtp_port: int) -> RunningSandbox:
    return RunningSandbox(subprocess.Popen(["true"]), url, smtp_port, Path("sandbox.log"))


def test_every_example_endpoint_that_sends_names_the_sandbox() -> None:
    endpoints = examples()
    for name in ("acme-uk-sms", "acme-uk-voice", "acme-whatsapp"):
        assert endpoints[name].spec.provider_api_url == EXAMPLE_URL, name
    relay = endpoints["acme-email"].spec.smtp
    assert relay is not None and (relay.host, relay.port, relay.starttls) == ("127.0.0.1", SMTP_PORT, False)
    whatsapp = endpoints["acme-whatsapp"].spec.whatsapp
    assert whatsapp is not None and whatsapp.access_token
    partner = endpoints["acme-partner"].spec.generic
    assert partner is not None and partner.callback_url.startswith(EXAMPLE_URL + "/partner/")


def test_a_sandbox_on_other_ports_gets_the_endpoints_and_nothing_else_changes() -> None:
    endpoints = examples()
    moved = sandbox("http://127.0.0.1:40001", 40002)
    sms = at_sandbox(endpoints["acme-uk-sms"], moved)
    assert sms.spec.provider_api_url == "http://127.0.0.1:40001"
    assert sms.spec.model_copy(update={"provider_api_url": EXAMPLE_URL}) == endpoints["acme-uk-sms"].spec
    partner = at_sandbox(endpoints["acme-partner"], moved).spec.generic
    assert (
        partner is not None and partner.callback_url == "http://127.0.0.1:40001/partner/acme-partner/messages"
    )
    mail = at_sandbox(endpoints["acme-email"], moved)
    assert mail.spec.smtp is not None and mail.spec.smtp.port == 40002
    # An endpoint that names a real provider (or none) is left alone.
    real = endpoints["acme-uk-sms"].model_copy(
        update={"spec": endpoints["acme-uk-sms"].spec.model_copy(update={"provider_api_url": ""})}
    )
    assert at_sandbox(real, moved) == real
    assert at_sandbox(endpoints["acme-webchat"], moved) == endpoints["acme-webchat"]
    # On its usual ports, or with no sandbox at all, nothing changes.
    assert at_sandbox(endpoints["acme-uk-sms"], sandbox(EXAMPLE_URL, SMTP_PORT)) == endpoints["acme-uk-sms"]
    assert at_sandbox(endpoints["acme-uk-sms"], None) == endpoints["acme-uk-sms"]
