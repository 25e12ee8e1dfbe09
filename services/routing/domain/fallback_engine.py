"""When fallback policies engage and release (pure state machine, driven by the caller's clock).

Each interval the caller hands over every assessment of the interval and the predicted service
level per (tenant, queue); per policy the interval is

- *bad*: a detector alerts on one of its metrics in the direction that hurts, or the predicted
  level is below its threshold;
- *clear*: nothing alerts and the predicted level (if the policy has a threshold) is at least
  the threshold plus the release margin;
- neither: the level sits inside the hysteresis band; nothing is decided on it.

    normal --bad--> pending --bad for engage_after--> ENGAGED --clear--> releasing
       ^              '--not bad--> normal                 ^               |
       '------------------ clear for release_after --------+---not clear---'

A manual engagement holds until a manual release (no automatic release under a person's
decision); a manual release holds the policy off until its condition has been clear once, so a
surge still in progress does not re-engage it behind the supervisor's back.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from ccsurge.assessment import Assessment
from routing.domain.fallback import (
    PREDICTED_SERVICE_LEVEL,
    Evidence,
    FallbackPolicy,
    detector_evidence,
    lowest_prediction,
    manual_evidence,
)


class Phase(enum.StrEnum):
    NORMAL = "normal"
    PENDING = "pending"
    ENGAGED = "engaged"
    RELEASING = "releasing"


class UnknownPolicy(LookupError):
    """A manual command named a policy that is not configured."""


@dataclass(frozen=True, slots=True)
class PolicyState:
    phase: Phase = Phase.NORMAL
    #: When the current phase began (pending: since the condition holds; releasing: since clear).
    since: float = 0.0
    engaged_at: float = 0.0
    #: What engaged it, and what was seen last while engaged.
    evidence: Evidence | None = None
    #: "engaged": held by a person until released by one; "released": held off until clear once.
    manual: str = ""


@dataclass(frozen=True, slots=True)
class Engaged:
    policy: FallbackPolicy
    at: float
    evidence: Evidence
    manual: bool = False


@dataclass(frozen=True, slots=True)
class Released:
    policy: FallbackPolicy
    at: float
    #: The last evidence while engaged (what the release is measured against).
    evidence: Evidence
    engaged_at: float
    #: "normal" (hysteresis satisfied), "manual", or "policy_removed".
    reason: str


Decision = Engaged | Released


@dataclass(frozen=True, slots=True)
class StillEngaged:
    """A policy whose last announcement (before a restart) was its engagement."""

    policy: str
    engaged_at: float
    evidence: Evidence
    manual: bool


@dataclass(frozen=True, slots=True)
class FallbackOutcome:
    """A decision with what was done about it (step descriptions), as events announce it."""

    decision: Decision
    actions: tuple[str, ...]
    failed: tuple[str, ...]


class FallbackEngine:
    def __init__(self, policies: Iterable[FallbackPolicy] = ()) -> None:
        self._policies: dict[str, FallbackPolicy] = {}
        self._states: dict[str, PolicyState] = {}
        self.set_policies(policies, at=0.0)

    # -- configuration ------------------------------------------------------------------------
    def set_policies(self, policies: Iterable[FallbackPolicy], *, at: float) -> list[Decision]:
        """Replace the policies; state is kept by name. An engaged policy that is gone (or that
        changed) is released first, so its actions are undone with the steps it engaged."""
        incoming = {p.name: p for p in policies}
        decisions: list[Decision] = []
        for name, old in list(self._policies.items()):
            state = self._states[name]
            if incoming.get(name) == old:
                continue
            if state.phase in (Phase.ENGAGED, Phase.RELEASING):
                decisions.append(Released(old, at, _evidence_of(state), state.engaged_at, "policy_removed"))
            self._states[name] = PolicyState()
        self._policies = incoming
        self._states = {name: self._states.get(name, PolicyState()) for name in incoming}
        return decisions

    @property
    def policies(self) -> Mapping[str, FallbackPolicy]:
        return self._policies

    def state(self, name: str) -> PolicyState:
        return self._states[name]

    def engaged(self) -> list[tuple[FallbackPolicy, PolicyState]]:
        return [
            (self._policies[name], state)
            for name, state in self._states.items()
            if state.phase in (Phase.ENGAGED, Phase.RELEASING)
        ]

    # -- observations -------------------------------------------------------------------------
    def observe(
        self,
        at: float,
        assessments: Sequence[Assessment],
        predicted: Mapping[tuple[str, str], float] | None = None,
    ) -> list[Decision]:
        decisions: list[Decision] = []
        for name, policy in self._policies.items():
            bad, clear = _condition(policy, assessments, predicted or {})
            state, decision = _step(policy, self._states[name], at, bad, clear)
            self._states[name] = state
            if isinstance(decision, Released):
                decision = replace(
                    decision, evidence=_now_of(decision.evidence, assessments, predicted or {})
                )
            if decision is not None:
                decisions.append(decision)
        return decisions

    # -- after a restart ----------------------------------------------------------------------
    def restore(self, name: str, engaged_at: float, evidence: Evidence, manual: bool) -> bool:
        """Take up an engagement announced before a restart (no decision: it was announced then).
        An automatic one releases as usual once normal returns; a manual one holds until a manual
        release. False (and nothing changes) for a policy that is no longer configured."""
        if name not in self._policies:
            return False
        self._states[name] = PolicyState(
            Phase.ENGAGED, engaged_at, engaged_at, evidence, manual="engaged" if manual else ""
        )
        return True

    # -- a person's commands ------------------------------------------------------------------
    def engage(self, name: str, at: float, by: str) -> Engaged | None:
        """Engage by hand (None: already engaged; it is now held until a manual release)."""
        policy = self._policy(name)
        state = self._states[name]
        if state.phase in (Phase.ENGAGED, Phase.RELEASING):
            self._states[name] = replace(state, phase=Phase.ENGAGED, since=at, manual="engaged")
            return None
        evidence = manual_evidence(by)
        self._states[name] = PolicyState(Phase.ENGAGED, at, at, evidence, manual="engaged")
        return Engaged(policy, at, evidence, manual=True)

    def release(self, name: str, at: float, by: str) -> Released | None:
        """Release by hand (None: it was not engaged); held off until its condition clears."""
        policy = self._policy(name)
        state = self._states[name]
        self._states[name] = PolicyState(Phase.NORMAL, at, manual="released")
        if state.phase not in (Phase.ENGAGED, Phase.RELEASING):
            return None
        return Released(policy, at, state.evidence or manual_evidence(by), state.engaged_at, "manual")

    def _policy(self, name: str) -> FallbackPolicy:
        policy = self._policies.get(name)
        if policy is None:
            raise UnknownPolicy(f"no surge policy {name!r}; policies: {sorted(self._policies)}")
        return policy


def _evidence_of(state: PolicyState) -> Evidence:
    return state.evidence or Evidence("", 0.0, 0.0, 0.0)


def _now_of(
    evidence: Evidence, assessments: Sequence[Assessment], predicted: Mapping[tuple[str, str], float]
) -> Evidence:
    """The same signal as `evidence`, measured now (what a release reports: back to normal)."""
    for assessment in assessments:
        if str(assessment.metric) == evidence.metric and assessment.key.label() == evidence.where:
            return Evidence(
                evidence.metric, assessment.value, assessment.baseline, assessment.score, evidence.where
            )
    if evidence.metric == PREDICTED_SERVICE_LEVEL:
        tenant, _, queue = evidence.where.partition("/")
        level = predicted.get((tenant, queue))
        if level is not None:
            return Evidence(
                evidence.metric, level, evidence.baseline, level - evidence.baseline, evidence.where
            )
    return evidence


def _condition(
    policy: FallbackPolicy, assessments: Sequence[Assessment], predicted: Mapping[tuple[str, str], float]
) -> tuple[Evidence | None, bool]:
    """(evidence when bad, clear)."""
    evidence = detector_evidence(policy, assessments)
    threshold = policy.predicted_service_level_under
    prediction_clear = True
    if threshold is not None:
        lowest = lowest_prediction(policy, predicted)
        if lowest is not None:
            queue, level = lowest
            if level < threshold and evidence is None:
                where = f"{policy.tenant}/{queue}"
                evidence = Evidence(PREDICTED_SERVICE_LEVEL, level, threshold, level - threshold, where)
            prediction_clear = level >= threshold + policy.release_margin
    return evidence, evidence is None and prediction_clear


def _step(
    policy: FallbackPolicy, state: PolicyState, at: float, bad: Evidence | None, clear: bool
) -> tuple[PolicyState, Decision | None]:
    if state.manual == "engaged":
        return replace(state, evidence=bad or state.evidence), None
    if state.manual == "released":
        if not clear:
            return state, None
        state = PolicyState()
    match state.phase:
        case Phase.NORMAL | Phase.PENDING:
            if bad is None:
                return PolicyState(), None
            since = state.since if state.phase is Phase.PENDING else at
            if at - since >= policy.engage_after_seconds:
                return PolicyState(Phase.ENGAGED, at, at, bad), Engaged(policy, at, bad)
            return PolicyState(Phase.PENDING, since, evidence=bad), None
        case Phase.ENGAGED | Phase.RELEASING:
            if not clear:
                return replace(state, phase=Phase.ENGAGED, since=at, evidence=bad or state.evidence), None
            since = state.since if state.phase is Phase.RELEASING else at
            if at - since >= policy.release_after_seconds:
                released = Released(policy, at, _evidence_of(state), state.engaged_at, "normal")
                return PolicyState(Phase.NORMAL, at), released
            return replace(state, phase=Phase.RELEASING, since=since), None
