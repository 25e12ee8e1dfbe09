"""The region's channel endpoints: the one place the gateway looks an endpoint up.

Kept current by the config watcher: `ccctl apply` of a `ChannelEndpoint` takes effect without
a restart. Endpoints of other regions and disabled ones are invisible here, so a webhook for
them answers 404 like an unknown name.

Two kinds of lookup. A provider webhook or the chat widget names the endpoint in its URL and
the endpoint decides the tenant (`by_name`, `by_address`). Everywhere a tenant is already
known (its API messages, its contacts' replies, call backs, journey prompts) the lookup is
`endpoint_for(tenant, name)`, which never hands out another tenant's endpoint: a name of
another tenant reads as unknown, so its prompts, queues and provider accounts stay its own.
"""

from __future__ import annotations

from collections.abc import Iterable

from ccmesh.channels import Channel
from ccmesh.configplane.models import ChannelEndpoint, Model


class ChannelDirectory:
    def __init__(self, region: str) -> None:
        self._region = region
        self._by_name: dict[str, ChannelEndpoint] = {}
        self._by_address: dict[tuple[str, str], ChannelEndpoint] = {}

    def refresh(self, documents: Iterable[Model]) -> None:
        by_name: dict[str, ChannelEndpoint] = {}
        by_address: dict[tuple[str, str], ChannelEndpoint] = {}
        for document in documents:
            if not isinstance(document, ChannelEndpoint):
                continue
            spec = document.spec
            if spec.region != self._region or not spec.enabled:
                continue
            by_name[document.metadata.name] = document
            # Documents arrive sorted by name, so a duplicate address resolves to the first name.
            by_address.setdefault((spec.channel, _address_key(spec.channel, spec.address)), document)
        self._by_name, self._by_address = by_name, by_address

    def by_name(self, name: str) -> ChannelEndpoint | None:
        """The endpoint a public URL names; its tenant is whoever owns it (webhooks, chat widget)."""
        return self._by_name.get(name)

    def endpoint_for(self, tenant_id: str, name: str) -> ChannelEndpoint | None:
        """The tenant's endpoint of that name; None when unknown, disabled or another tenant's."""
        endpoint = self._by_name.get(name) if name else None
        if endpoint is None or endpoint.spec.tenant != tenant_id:
            return None
        return endpoint

    def voice_endpoint_for(self, tenant_id: str, brand_id: str) -> ChannelEndpoint | None:
        """The voice endpoint a call back is placed from: the tenant's first, same brand preferred."""
        voice = [
            e
            for e in self._by_name.values()
            if e.spec.tenant == tenant_id and e.spec.channel == Channel.VOICE
        ]
        same_brand = [e for e in voice if e.spec.brand == brand_id]
        candidates = same_brand or voice
        return candidates[0] if candidates else None

    def by_address(self, channel: str, address: str) -> ChannelEndpoint | None:
        """The endpoint customers reach at `address` on `channel` (e-mail: case-insensitive)."""
        return self._by_address.get((channel, _address_key(channel, address)))

    def all(self) -> list[ChannelEndpoint]:
        return list(self._by_name.values())


def _address_key(channel: str, address: str) -> str:
    return address.strip().lower() if channel == Channel.EMAIL else address.strip()
