"""Checks that span documents: a reference from one document must name another that exists.

Each document is valid on its own (pydantic); these run where a set of documents is applied
together with what is already stored, so a ContactCenter cannot name an endpoint nobody declared.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ccmesh.configplane.base import Model
from ccmesh.configplane.channels import ChannelEndpoint
from ccmesh.configplane.contactcenter import ContactCenter
from ccmesh.configplane.loader import kind_of, metadata_of


def dangling_references(documents: Iterable[Model]) -> list[str]:
    """Problems, each naming the document and field; empty when every reference resolves.

    `documents` is everything the config plane will hold: the stored documents with the ones
    being applied in their place.
    """
    listed = list(documents)
    endpoints = {d.metadata.name: d for d in listed if isinstance(d, ChannelEndpoint)}
    problems = []
    for document in listed:
        if not isinstance(document, ContactCenter):
            continue
        for index, tenant in enumerate(document.spec.tenants):
            name = tenant.default_entry_point
            if not name:
                continue
            where = f"contactcenter/{document.metadata.name}: spec.tenants[{index}].defaultEntryPoint"
            endpoint = endpoints.get(name)
            ours = sorted(n for n, e in endpoints.items() if e.spec.tenant == tenant.id)
            if endpoint is None:
                problems.append(
                    f"{where}: no ChannelEndpoint named {name!r}; endpoints of tenant {tenant.id!r}: {ours}"
                )
            elif endpoint.spec.tenant != tenant.id:
                problems.append(
                    f"{where}: ChannelEndpoint {name!r} belongs to tenant {endpoint.spec.tenant!r}, "
                    f"not {tenant.id!r}; endpoints of tenant {tenant.id!r}: {ours}"
                )
    return problems


def endpoint_brand_problems(documents: Iterable[Model]) -> list[str]:
    """A ChannelEndpoint's brand must be a brand of its tenant in its region's ContactCenter.

    Only checked where that ContactCenter is known (stored or applied with it)."""
    listed = list(documents)
    centers = {d.spec.region: d for d in listed if isinstance(d, ContactCenter)}
    problems = []
    for endpoint in (d for d in listed if isinstance(d, ChannelEndpoint)):
        spec = endpoint.spec
        center = centers.get(spec.region)
        tenant = center.spec.tenant(spec.tenant) if center is not None else None
        if tenant is None or not spec.brand:
            continue
        brands = sorted(b.id for b in tenant.brands)
        if spec.brand not in brands:
            problems.append(
                f"channelendpoint/{endpoint.metadata.name}: spec.brand: tenant {spec.tenant!r} has no "
                f"brand {spec.brand!r} in region {spec.region!r}; its brands: {brands}"
            )
    return problems


def endpoint_queue_problem(
    endpoint: ChannelEndpoint, queue_brands: Mapping[str, tuple[str, Iterable[str]]]
) -> str:
    """Why the endpoint's queue does not serve the endpoint's brand ("" when it does).

    `queue_brands` is the tenant's queues as routing knows them: name -> (brand, shared brands).
    A queue routing does not know yet is not judged here (queues may be configured later)."""
    spec = endpoint.spec
    found = queue_brands.get(spec.queue) if spec.queue else None
    if found is None:
        return ""
    brand, shared = found
    if not brand or not spec.brand or brand == spec.brand or spec.brand in set(shared):
        return ""
    return (
        f"channelendpoint/{endpoint.metadata.name}: spec.queue: queue {spec.queue!r} belongs to brand "
        f"{brand!r}, but the endpoint is of brand {spec.brand!r} (spec.brand); a brand's customers "
        f"must not wait in another brand's queue"
    )


def merged(stored: Iterable[Model], incoming: Iterable[Model]) -> list[Model]:
    """The stored documents with the incoming ones replacing those of the same kind and name."""
    by_key = {(kind_of(d), metadata_of(d).name): d for d in stored}
    by_key.update({(kind_of(d), metadata_of(d).name): d for d in incoming})
    return list(by_key.values())
