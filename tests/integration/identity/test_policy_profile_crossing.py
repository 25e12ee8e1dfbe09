"""A `redaction` rule of the home region on a real two-cluster supercluster (eu, us): although the
tenant's residency policy lets eu send a customer's profile to us, the rule keeps it in eu (a
profile cannot be redacted). us gets only the pseudonymous reference, the crossing record says
which rule refused, and eu publishes a PolicyViolation naming it."""

from __future__ import annotations

from typing import Any

import pytest
from _platform import eventually
from _regions import example, identity_in_regions
from test_identity_residency import EU_PEOPLE, GLOBEX, PHONE, ident, resolve, with_globex_policy

from ccmesh import naming
from ccmesh.configplane.compliance import ComplianceRule, ComplianceSettings
from ccmesh.configplane.models import ContactCenter, ResidencyPolicy
from ccmesh.testing.topologies import SuperclusterTopology
from contactcenter.events.v1 import events_pb2
from contactcenter.identity.v1 import identity_pb2

pytestmark = pytest.mark.timeout(90)


def with_redaction(document: ContactCenter) -> ContactCenter:
    compliance = ComplianceSettings(
        version="2026-12",
        rules=[
            ComplianceRule.model_validate(
                {"name": "eu-redact-leaving", "type": "redaction", "regions": ["eu"]}
            )
        ],
    )
    return document.model_copy(update={"spec": document.spec.model_copy(update={"compliance": compliance})})


async def test_a_redaction_rule_keeps_the_profile_home_and_names_itself(
    nats_supercluster: SuperclusterTopology,
) -> None:
    urls = {region: nats_supercluster.urls_of(region)[0] for region in ("eu", "us")}
    personal = ResidencyPolicy(personal_data_regions=["us"], pseudonymous_regions=["us"])
    eu_doc = with_redaction(with_globex_policy(example("eu"), personal))
    async with identity_in_regions(urls, [eu_doc, example("us")]) as regions:
        violations: list[events_pb2.Event] = []

        async def seen(msg: Any) -> None:
            event = events_pb2.Event()
            event.ParseFromString(msg.data)
            violations.append(event)

        await regions.clients["eu"].subscribe(
            naming.event_subject("eu", "globex", "policy_violation", "*"), cb=seen
        )
        eu, us = regions.stub("eu"), regions.stub("us")
        phone = EU_PEOPLE[3][0]
        created = await resolve(eu, ident(PHONE, phone))
        customer_id = created.customer.customer_id

        remote = await resolve(us, ident(PHONE, phone))
        assert remote.remote.home_region == "eu" and remote.remote.reference.startswith("psr_")
        assert not remote.customer.customer_id  # the profile did not cross

        crossings = (await eu.ListCrossings(identity_pb2.ListCrossingsRequest(tenant=GLOBEX))).crossings
        assert [(c.customer_id, c.to_region, c.kind) for c in crossings] == [
            (customer_id, "us", "pseudonymous")
        ]
        audit = await eu.ListAuditRecords(
            identity_pb2.ListAuditRecordsRequest(tenant=GLOBEX, customer_id=customer_id)
        )
        assert any("eu-redact-leaving" in record.reason for record in audit.records)

        async def violated() -> bool:
            return bool(violations)

        await eventually(violated, seconds=10)
        violation = violations[0]
        assert violation.policy_violation.rule == "eu-redact-leaving"
        assert violation.policy_violation.action == "leave_region"
        assert violation.policy_violation.customer_id == customer_id
        assert violation.policy_violation.rule_set_version == "2026-12"
