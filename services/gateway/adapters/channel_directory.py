"""The region's channel endpoints, indexed for the lookups webhooks and the SMTP listener make.

Kept current by the config watcher: `ccctl apply` of a `ChannelEndpoint` takes effect without
a restart. Endpoints of other regions and disabled ones are invisible here, so a webhook for
them answers 404 like an unknown name.
"""

from __future__ import annotations

from collections.abc import Iterable

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
        return self._by_name.get(name)

    def by_address(self, channel: str, address: str) -> ChannelEndpoint | None:
        """The endpoint customers reach at `address` on `channel` (e-mail: case-insensitive)."""
        return self._by_address.get((channel, _address_key(channel, address)))

    def all(self) -> list[ChannelEndpoint]:
        return list(self._by_name.values())


def _address_key(channel: str, address: str) -> str:
    return address.strip().lower() if channel == "email" else address.strip()
