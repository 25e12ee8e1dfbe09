"""Fallback policies in the ContactCenter: refused on apply naming the field, converted faithfully."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest

from ccmesh.configplane.contactcenter import ContactCenter
from ccmesh.configplane.surge import DEFAULT_CALLBACK_TEXT
from ccsurge.assessment import SurgeMetric
from routing.service_layer.surge_guard_policies import fallback_policies_of


def center(*policies: dict[str, Any], known: tuple[str, ...] = ("eu", "us", "latam")) -> dict[str, Any]:
    return {
        "apiVersion": "contactcenter.dev/v1alpha1",
        "kind": "ContactCenter",
        "metadata": {"name": "eu"},
        "spec": {
            "region": "eu",
            "knownRegions": list(known),
            "tenants": [{"id": "acme", "residency": {"pseudonymousRegions": ["us"]}}],
            "surge": {"policies": list(policies)},
        },
    }


def policy(**overrides: Any) -> dict[str, Any]:
    return {
        "name": "burst",
        "tenant": "acme",
        "queue": "support",
        "actions": [{"type": "callback"}],
        **overrides,
    }


def refusal(document: dict[str, Any]) -> str:
    with pytest.raises(pydantic.ValidationError) as caught:
        ContactCenter.model_validate(document)
    return str(caught.value)


def test_a_valid_policy_becomes_the_engines_policy_with_default_wording() -> None:
    document = ContactCenter.model_validate(
        center(
            policy(
                predictedServiceLevelUnder=0.7,
                actions=[
                    {"type": "callback"},
                    {"type": "journey", "flow": "support", "version": 3},
                    {"type": "overflow", "targetQueue": "overflow", "targetRegion": "us"},
                ],
            )
        )
    )
    (converted,) = fallback_policies_of(document)
    assert converted.metrics == {SurgeMetric.ARRIVALS, SurgeMetric.WAITING, SurgeMetric.LONGEST_WAIT}
    assert (converted.engage_after_seconds, converted.release_after_seconds) == (60.0, 300.0)
    assert converted.predicted_service_level_under == 0.7
    assert [s.describe() for s in converted.steps] == [
        "callback",
        "journey:support/live->v3",
        "overflow:us/overflow",
    ]
    assert converted.steps[0].text == DEFAULT_CALLBACK_TEXT
    assert fallback_policies_of(None) == []


@pytest.mark.parametrize(
    ("document", "named"),
    [
        (
            center(policy(tenant="globex")),
            "surge.policies[0].tenant (policy 'burst'): unknown tenant 'globex'",
        ),
        (
            center(policy(actions=[{"type": "overflow", "targetQueue": "x", "targetRegion": "mars"}])),
            "surge.policies[0].actions[0].targetRegion (policy 'burst'): unknown region 'mars'",
        ),
        (
            center(policy(actions=[{"type": "overflow", "targetQueue": "x", "targetRegion": "latam"}])),
            "surge.policies[0].actions[0].targetRegion (policy 'burst'): would widen tenant 'acme'",
        ),
        (center(policy(actions=[{"type": "journey", "version": 2}])), "a `journey` action needs `flow`"),
        (center(policy(actions=[{"type": "journey", "flow": "support"}])), "needs `version`"),
        (center(policy(actions=[{"type": "overflow"}])), "needs `targetQueue`"),
        (center(policy(actions=[{"type": "teleport"}])), "actions.0.type"),
        (center(policy(actions=[])), "actions"),
        (center(policy(metrics=[])), "needs a trigger: metrics or predictedServiceLevelUnder"),
        (center(policy(metrics=["arrivals", "arrivals"])), "more than once"),
        (center(policy(metrics=["queue_length"])), "metrics.0"),
        (center(policy(predictedServiceLevelUnder=1.5)), "predictedServiceLevelUnder"),
        (center(policy(), policy(queue="billing")), "surge policy names must be unique; repeated: ['burst']"),
    ],
)
def test_bad_policies_are_refused_naming_what_is_wrong(document: dict[str, Any], named: str) -> None:
    assert named in refusal(document)
