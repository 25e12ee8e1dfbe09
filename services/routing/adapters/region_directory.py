"""The region's ContactCenter document as the ACD's `RegionDirectory` (tenants' brand sharing,
the regions of the deployment), read when asked so a config change applies at once."""

from __future__ import annotations

from collections.abc import Callable

from ccmesh.configplane.models import ContactCenter


class ContactCenterDirectory:
    def __init__(self, current: Callable[[], ContactCenter | None], region: str) -> None:
        self._current = current
        self._region = region

    def brand_sharing(self, tenant: str) -> str:
        document = self._current()
        found = document.spec.tenant(tenant) if document is not None else None
        return found.brand_sharing if found is not None else ""

    def known_regions(self) -> frozenset[str]:
        document = self._current()
        if document is None:
            return frozenset({self._region})
        return frozenset({*document.spec.known_regions, document.spec.region, self._region})
