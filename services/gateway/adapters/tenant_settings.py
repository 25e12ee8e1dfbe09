"""Per-tenant settings the gateway reads from the region's ContactCenter, kept current by the watcher."""

from __future__ import annotations

from ccmesh.configplane.back_pressure import BackPressure
from ccmesh.configplane.watch import ConfigWatcher


class TenantSettings:
    def __init__(self, watcher: ConfigWatcher, region: str) -> None:
        self._watcher = watcher
        self._region = region

    def default_entry_point(self, tenant_id: str) -> str:
        """The endpoint a tenant API message without `entryPoint` enters through; "" when none."""
        contact_center = self._watcher.contact_center_for_region(self._region)
        tenant = contact_center.spec.tenant(tenant_id) if contact_center is not None else None
        return tenant.default_entry_point if tenant is not None else ""

    def back_pressure(self, tenant_id: str) -> BackPressure | None:
        """The tenant's ceilings of waiting contacts; None when the tenant is not configured here."""
        contact_center = self._watcher.contact_center_for_region(self._region)
        tenant = contact_center.spec.tenant(tenant_id) if contact_center is not None else None
        return tenant.back_pressure if tenant is not None else None
