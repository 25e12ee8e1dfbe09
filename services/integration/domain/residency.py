"""Where a tenant's personal data may be delivered from this region."""

from __future__ import annotations

from ccmesh.configplane.models import Tenant


def may_receive_personal_data(tenant: Tenant, event_region: str, endpoint_region: str) -> bool:
    """True when an endpoint in `endpoint_region` may get personal data of `tenant` held in `event_region`."""
    return endpoint_region == event_region or endpoint_region in tenant.residency.personal_data_regions
