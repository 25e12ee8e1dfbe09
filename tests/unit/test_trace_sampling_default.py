"""Tracing at its cost: `ccctl up` starts services with parent-based ratio sampling unless the
user chose a sampler, and the SDK reads exactly those variables."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

from ccmesh.telemetry import default_sampling


def test_a_platform_without_a_chosen_sampler_keeps_one_trace_in_a_hundred() -> None:
    assert default_sampling({"PATH": "/usr/bin"}) == {
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": "0.01",
    }


@pytest.mark.parametrize(
    "chosen",
    [
        {"OTEL_TRACES_SAMPLER": "always_on"},
        {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.5"},
        # A ratio alone is the user's choice too: the SDK's default sampler then uses it.
        {"OTEL_TRACES_SAMPLER_ARG": "0.2"},
    ],
)
def test_a_sampler_the_user_chose_is_left_alone(chosen: dict[str, str]) -> None:
    assert default_sampling(chosen) == {}


def test_the_sdk_samples_by_the_default_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in default_sampling({}).items():
        monkeypatch.setenv(name, value)
    sampler = TracerProvider().sampler
    assert isinstance(sampler, ParentBased)
    root = sampler._root  # the decision for a trace that starts here
    assert isinstance(root, TraceIdRatioBased) and root.rate == 0.01
