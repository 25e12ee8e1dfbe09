"""Which channel endpoint a tenant API message enters through.

A provider webhook names its endpoint in the URL; a message posted to the tenant API names it
in `entryPoint`, or enters through the tenant's `defaultEntryPoint` (ContactCenter). The
endpoint decides the brand (so the customer is the same one who later writes through that
endpoint's channel) and the journey or queue. A name that is no endpoint of the tenant, or no
name and no default, is refused: a message that reaches no queue would wait for nobody.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from gateway.domain.inbound import InboundMessage
from gateway.service_layer.ports import EndpointLookup


class EntryPointError(ValueError):
    """The message names no usable entry point; the text names the field and what to do."""


def enter_through(
    message: InboundMessage, *, endpoints: EndpointLookup, default_entry_point: Callable[[str], str]
) -> InboundMessage:
    """The message with its entry point and brand filled in from the endpoint it enters through."""
    tenant_id = message.tenant_id
    name = message.entry_point or default_entry_point(tenant_id)
    if not name:
        raise EntryPointError(
            f"entryPoint: required; tenant {tenant_id!r} declares no defaultEntryPoint in its ContactCenter"
        )
    endpoint = endpoints.endpoint_for(tenant_id, name)
    if endpoint is None:
        field = "entryPoint" if message.entry_point else f"tenant {tenant_id!r} defaultEntryPoint"
        raise EntryPointError(f"{field}: {name[:200]!r} is no channel endpoint of tenant {tenant_id!r}")
    brand = endpoint.spec.brand
    if message.brand_id and brand and message.brand_id != brand:
        raise EntryPointError(
            f"brand: {message.brand_id[:100]!r} differs from the brand {brand!r} of entry point {name!r}"
        )
    return replace(message, entry_point=name, brand_id=message.brand_id or brand)
