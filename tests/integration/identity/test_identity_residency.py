"""Data residency on a real two-cluster supercluster (eu, us): personal data stays on eu's servers;
another region gets only a pseudonymous reference unless the policy names it, and every crossing
is recorded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from _platform import eventually
from _regions import example, identity_in_regions

from ccmesh.configplane.models import ContactCenter, ResidencyPolicy
from ccmesh.status import RpcError
from ccmesh.testing.topologies import SuperclusterTopology
from contactcenter.common.v1 import common_pb2
from contactcenter.identity.v1 import identity_pb2

pytestmark = pytest.mark.timeout(90)

PHONE = common_pb2.IDENTIFIER_KIND_PHONE
EMAIL = common_pb2.IDENTIFIER_KIND_EMAIL
GLOBEX = common_pb2.TenantRef(tenant_id="globex", brand_id="globex")
EU_PEOPLE = [(f"+49 151 7{n:03d} 4242", f"person.{n}.residency@example.eu") for n in range(5)]


def ident(kind: int, value: str) -> common_pb2.Identifier:
    return common_pb2.Identifier(kind=kind, value=value)  # type: ignore[arg-type]


def with_globex_policy(document: ContactCenter, policy: ResidencyPolicy) -> ContactCenter:
    tenants = [
        t.model_copy(update={"residency": policy}) if t.id == "globex" else t for t in document.spec.tenants
    ]
    return document.model_copy(update={"spec": document.spec.model_copy(update={"tenants": tenants})})


def files_containing(roots: list[Path], needle: bytes) -> list[Path]:
    return [p for root in roots for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


async def resolve(stub: Any, *identifiers: common_pb2.Identifier) -> Any:
    return await stub.ResolveCustomer(
        identity_pb2.ResolveCustomerRequest(tenant=GLOBEX, identifiers=list(identifiers))
    )


async def test_eu_personal_data_stays_on_eu_servers_and_crossings_are_recorded(
    nats_supercluster: SuperclusterTopology,
) -> None:
    urls = {region: nats_supercluster.urls_of(region)[0] for region in ("eu", "us")}
    eu_doc = with_globex_policy(example("eu"), ResidencyPolicy(pseudonymous_regions=["us"]))
    async with identity_in_regions(urls, [eu_doc, example("us")]) as regions:
        eu = regions.stub("eu")
        created = [await resolve(eu, ident(PHONE, phone), ident(EMAIL, email)) for phone, email in EU_PEOPLE]
        assert all(reply.created and reply.customer.home_region == "eu" for reply in created)

        # From us, the global index (keyed hashes only) finds the home region: a reference, no data.
        us = regions.stub("us")
        remote = await resolve(us, ident(PHONE, EU_PEOPLE[0][0]))
        assert remote.remote.home_region == "eu"
        assert remote.remote.reference.startswith("psr_")
        assert not remote.created and not remote.customer.customer_id
        assert not (await resolve(us, ident(EMAIL, EU_PEOPLE[1][1]))).customer.customer_id

        needles = [p.replace(" ", "").encode() for p, _ in EU_PEOPLE] + [e.encode() for _, e in EU_PEOPLE]
        eu_dirs, us_dirs = nats_supercluster.store_dirs("eu"), nats_supercluster.store_dirs("us")

        async def all_on_eu_disk() -> bool:
            return all(files_containing(eu_dirs, needle) for needle in needles)

        await eventually(all_on_eu_disk, seconds=20)
        for needle in needles:
            assert files_containing(us_dirs, needle) == [], needle

        # The tenant lets personal data go eu -> us: the profile crosses, and the crossing is recorded.
        await regions.apply(
            with_globex_policy(
                eu_doc, ResidencyPolicy(personal_data_regions=["us"], pseudonymous_regions=["us"])
            )
        )

        async def crossed() -> Any:
            reply = await resolve(us, ident(PHONE, EU_PEOPLE[2][0]))
            return reply if reply.customer.customer_id else None

        allowed = await eventually(crossed)
        assert allowed.customer.customer_id == created[2].customer.customer_id
        assert allowed.remote.home_region == "eu"
        crossings = (await eu.ListCrossings(identity_pb2.ListCrossingsRequest(tenant=GLOBEX))).crossings
        kinds = {(c.customer_id, c.from_region, c.to_region, c.kind) for c in crossings}
        assert (created[0].customer.customer_id, "eu", "us", "pseudonymous") in kinds
        assert (created[2].customer.customer_id, "eu", "us", "personal") in kinds
        assert all(c.actor == "test-admin" and c.at > 0 for c in crossings)
        # The us region keeps none of it: it recorded no crossing and stored no customer.
        assert not (await us.ListCrossings(identity_pb2.ListCrossingsRequest(tenant=GLOBEX))).crossings


async def test_only_the_service_role_may_ask_a_home_region(nats_supercluster: SuperclusterTopology) -> None:
    urls = {region: nats_supercluster.urls_of(region)[0] for region in ("eu", "us")}
    async with identity_in_regions(urls, [example("eu"), example("us")]) as regions:
        await resolve(regions.stub("eu"), ident(PHONE, "+49 151 70009999"))
        with pytest.raises(RpcError) as caught:
            await regions.stub("eu", role="admin", via="us").ResolveFromRegion(
                identity_pb2.ResolveFromRegionRequest(
                    tenant=GLOBEX, identifiers=[ident(PHONE, "+4915170009999")], requesting_region="us"
                )
            )
        assert caught.value.code.name == "PERMISSION_DENIED"
