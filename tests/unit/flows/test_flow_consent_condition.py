"""Journeys read the customer's consent in conditions (`consent.recording`), as identity knew it
when the journey started; every purpose answers, false unless given."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ccflow.executor import Executor
from ccflow.expressions import ExpressionError, check
from ccflow.journey import Journey
from ccflow.loader import bundle_from_sources
from ccflow.overlays import render

FLOW = """
apiVersion: contactcenter.dev/v1alpha1
kind: Flow
metadata: {name: consented}
spec:
  start: ask
  nodes:
    - id: ask
      kind: condition
      branches:
        - when: consent.recording && consent.transcription
          next: recorded-queue
      default: plain-queue
    - {id: recorded-queue, kind: queue, queue: recorded}
    - {id: plain-queue, kind: queue, queue: plain}
"""
NOW = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("consent", "queue"),
    [
        ({"recording": True, "transcription": True}, "recorded"),
        ({"recording": True}, "plain"),
        ({"recording": True, "transcription": False}, "plain"),
        ({}, "plain"),
    ],
)
def test_a_condition_branches_on_the_customers_consent(consent: dict[str, bool], queue: str) -> None:
    flow, _ = render(bundle_from_sources([("consented.yaml", FLOW)]), "consented", {})
    journey = Journey(journey_id="c-1", flow="consented", consent=consent)
    Executor(flow).start(journey, NOW)
    assert journey.outcome["queue"] == queue
    assert journey.errors == []
    assert Journey.from_dict(journey.to_dict()).consent == consent


def test_consent_conditions_are_checked_like_any_other() -> None:
    check("consent.marketing", bool)
    with pytest.raises(ExpressionError, match="wrong type"):
        check("consent.recording + 1", bool)
