"""A tenant API message enters through its named endpoint or the tenant's default, or is refused."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ccmesh.configplane.models import ChannelEndpoint
from gateway.domain.inbound import InboundMessage
from gateway.service_layer.api_entry import EntryPointError, enter_through


def endpoint(name: str, tenant: str, brand: str = "") -> ChannelEndpoint:
    return ChannelEndpoint.model_validate(
        {
            "apiVersion": "contactcenter.dev/v1alpha1",
            "kind": "ChannelEndpoint",
            "metadata": {"name": name},
            "spec": {
                "region": "eu",
                "tenant": tenant,
                "brand": brand,
                "channel": "email",
                "provider": "smtp",
                "address": f"{name}@example.org",
                "queue": "support",
            },
        }
    )


class FakeDirectory:
    def __init__(self, *endpoints: ChannelEndpoint) -> None:
        self._by_name = {e.metadata.name: e for e in endpoints}

    def endpoint_for(self, tenant_id: str, name: str) -> ChannelEndpoint | None:
        found = self._by_name.get(name)
        return found if found is not None and found.spec.tenant == tenant_id else None

    def voice_endpoint_for(self, tenant_id: str, brand_id: str) -> ChannelEndpoint | None:
        return None


DIRECTORY = FakeDirectory(endpoint("acme-mail", "acme", "acme-retail"), endpoint("globex-mail", "globex"))
DEFAULTS = {"acme": "acme-mail"}
MESSAGE = InboundMessage(
    tenant_id="acme",
    brand_id="",
    channel=4,
    from_kind=2,
    from_value="a@example.org",
    entry_point="",
    text="hi",
    provider_message_id="m1",
)


def enter(message: InboundMessage) -> InboundMessage:
    return enter_through(message, endpoints=DIRECTORY, default_entry_point=lambda t: DEFAULTS.get(t, ""))


def test_no_entry_point_takes_the_tenants_default_and_its_brand() -> None:
    entered = enter(MESSAGE)
    assert (entered.entry_point, entered.brand_id) == ("acme-mail", "acme-retail")


def test_a_named_endpoint_of_the_tenant_gives_its_brand() -> None:
    entered = enter(replace(MESSAGE, entry_point="acme-mail", brand_id="acme-retail"))
    assert (entered.entry_point, entered.brand_id) == ("acme-mail", "acme-retail")


@pytest.mark.parametrize(
    ("message", "words"),
    [
        (replace(MESSAGE, entry_point="nowhere"), ["entryPoint", "'nowhere'", "tenant 'acme'"]),
        (replace(MESSAGE, entry_point="globex-mail"), ["entryPoint", "'globex-mail'"]),
        (replace(MESSAGE, tenant_id="globex"), ["entryPoint: required", "defaultEntryPoint"]),
        (replace(MESSAGE, brand_id="acme-bank"), ["brand", "'acme-bank'", "'acme-retail'"]),
    ],
)
def test_an_unusable_entry_point_is_refused_naming_the_field(
    message: InboundMessage, words: list[str]
) -> None:
    with pytest.raises(EntryPointError) as caught:
        enter(message)
    for word in words:
        assert word in str(caught.value)


def test_a_default_that_names_no_endpoint_of_the_tenant_names_the_setting() -> None:
    with pytest.raises(EntryPointError, match="tenant 'globex' defaultEntryPoint: 'acme-mail'"):
        enter_through(
            replace(MESSAGE, tenant_id="globex"),
            endpoints=DIRECTORY,
            default_entry_point=lambda _t: "acme-mail",
        )
