"""The surge guard: fallback policies engaged and released from what the detectors say.

`surge_watch` hands every interval's assessments to `take_assessments` (the `AssessmentSink`
port); the guard reads the policies of the region's ContactCenter, asks the predicted service
level of the queues whose policies have a threshold, lets the pure engine decide
(`routing.domain.fallback_engine`), carries out the steps of what engaged in order and of what
released in reverse order (`FallbackActions`), and publishes each engagement and release with
its evidence and the actions taken. While a policy stays engaged its steps are sustained every
interval (contacts arriving meanwhile are offered the call back, told the wait).

A step that fails is reported in the event (`failed_actions`) and the remaining steps still run:
a journey alias that cannot move must not keep callbacks from being offered.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ccsurge.assessment import Assessment
from routing.domain.fallback import FallbackPolicy, FallbackStep, ManualCommand
from routing.domain.fallback_engine import (
    Decision,
    Engaged,
    FallbackEngine,
    FallbackOutcome,
    PolicyState,
    StillEngaged,
    UnknownPolicy,
)

log = logging.getLogger(__name__)


class ActionFailed(Exception):
    """A step could not be carried out; the message says why (it goes into the event)."""


@dataclass
class Engagement:
    """What an engaged policy's steps remember until they are undone (per step index)."""

    policy: FallbackPolicy
    engaged_at: float
    memory: dict[int, Any] = field(default_factory=dict)


class FallbackActions(Protocol):
    """Carries out a policy's steps (`routing.service_layer.surge_guard_actions`)."""

    async def engage(self, engagement: Engagement, index: int, step: FallbackStep) -> None: ...

    async def sustain(self, engagement: Engagement, index: int, step: FallbackStep) -> None: ...

    async def release(self, engagement: Engagement, index: int, step: FallbackStep) -> None: ...


class QueueOutlook(Protocol):
    async def predicted_service_levels(self, tenant: str, queue: str) -> dict[tuple[str, str], float]:
        """(tenant, queue) -> predicted service level (0..1), for `queue` ("": every queue of the
        tenant); queues without a prediction are left out."""
        ...


FallbackPublisher = Callable[[FallbackOutcome], Awaitable[None]]
PolicySource = Callable[[], Iterable[FallbackPolicy]]
#: Hands a manual command to the region's other routing instances.
CommandBroadcast = Callable[[ManualCommand], Awaitable[None]]
#: The policies (of those given) whose last announcement was their engagement.
EngagementLog = Callable[[Sequence[FallbackPolicy]], Awaitable[Sequence[StillEngaged]]]


class SurgeGuard:
    def __init__(
        self,
        policies: PolicySource,
        actions: FallbackActions,
        publish: FallbackPublisher,
        outlook: QueueOutlook | None = None,
        clock: Callable[[], float] = time.time,
        broadcast: CommandBroadcast | None = None,
    ) -> None:
        self._policies = policies
        self._actions = actions
        self._publish = publish
        self._outlook = outlook
        self._clock = clock
        self._broadcast = broadcast
        self._engine = FallbackEngine()
        self._engagements: dict[str, Engagement] = {}
        # One interval or command at a time: a step never runs against a half-done engagement.
        self._lock = asyncio.Lock()

    # -- the AssessmentSink port --------------------------------------------------------------
    async def take_assessments(self, assessments: Sequence[Assessment]) -> None:
        async with self._lock:
            at = max((a.at for a in assessments), default=self._clock())
            decisions = self._engine.set_policies(self._policies(), at=at)
            predicted = await self._predictions()
            decisions += self._engine.observe(at, assessments, predicted)
            for decision in decisions:
                await self._carry_out(decision)
            await self._sustain()

    # -- after a restart ----------------------------------------------------------------------
    async def restore(self, read: EngagementLog) -> list[str]:
        """Take up the engagements announced before a restart (the names taken up), so an
        automatic one is released when normal returns and a manual one holds until released by
        hand. Nothing is announced again. Their steps are engaged again to rebuild what only
        lived in memory (widened overflow, the scaling signal); a journey alias already on its
        fallback version stays there. When the log cannot be read every policy starts normal:
        a restart must not wait on it."""
        async with self._lock:
            await self._sync_policies()
            try:
                found = await read(list(self._engine.policies.values()))
            except Exception:
                log.exception("surge guard: engaged policies not read back; every policy starts normal")
                return []
            restored: list[str] = []
            for still in found:
                if not self._engine.restore(still.policy, still.engaged_at, still.evidence, still.manual):
                    continue
                policy = self._engine.policies[still.policy]
                engagement = Engagement(policy, still.engaged_at)
                self._engagements[policy.name] = engagement
                actions: list[str] = []
                failed: list[str] = []
                for index, step in enumerate(policy.steps):
                    await self._run(self._actions.engage, engagement, index, step, actions, failed)
                log.warning(
                    "surge policy %s still engaged%s since %.0f: %s%s",
                    policy.name,
                    " by hand" if still.manual else "",
                    still.engaged_at,
                    ", ".join(actions) or "no action succeeded",
                    f"; failed: {'; '.join(failed)}" if failed else "",
                )
                restored.append(policy.name)
            return restored

    # -- a person's commands ------------------------------------------------------------------
    async def engage(self, tenant: str, name: str, by: str) -> None:
        """Raises `routing.domain.fallback_engine.UnknownPolicy` for a policy not of `tenant`."""
        await self._command(ManualCommand(tenant, name, "engage", self._clock(), by))

    async def release(self, tenant: str, name: str, by: str) -> None:
        await self._command(ManualCommand(tenant, name, "release", self._clock(), by))

    async def _command(self, command: ManualCommand) -> None:
        await self.apply_command(command)
        if self._broadcast is not None:
            try:
                await self._broadcast(command)
            except Exception:  # applied here; the other instances follow at the next command
                log.exception(
                    "surge command %s %s not passed on to the other instances", command.action, command.policy
                )

    async def apply_command(self, command: ManualCommand) -> None:
        """A manual command, given here or by another instance (then repeated here at the same
        moment, so both engines agree and announce it with the same event id)."""
        async with self._lock:
            await self._sync_policies()
            self._own(command.tenant, command.policy)
            if command.action == "engage":
                decision: Decision | None = self._engine.engage(command.policy, command.at, command.by)
            else:
                decision = self._engine.release(command.policy, command.at, command.by)
            if decision is not None:
                await self._carry_out(decision)

    async def status(self, tenant: str) -> list[tuple[FallbackPolicy, PolicyState]]:
        """The tenant's policies with their state, sorted by name."""
        async with self._lock:
            await self._sync_policies()
        policies = self._engine.policies
        return [
            (policies[n], self._engine.state(n)) for n in sorted(policies) if policies[n].tenant == tenant
        ]

    # -- internals ----------------------------------------------------------------------------
    async def _sync_policies(self) -> None:
        for decision in self._engine.set_policies(self._policies(), at=self._clock()):
            await self._carry_out(decision)

    def _own(self, tenant: str, name: str) -> None:
        policy = self._engine.policies.get(name)
        if policy is None or policy.tenant != tenant:
            ours = sorted(n for n, p in self._engine.policies.items() if p.tenant == tenant)
            raise UnknownPolicy(f"tenant {tenant!r} has no surge policy {name!r}; its policies: {ours}")

    async def _predictions(self) -> dict[tuple[str, str], float]:
        if self._outlook is None:
            return {}
        predicted: dict[tuple[str, str], float] = {}
        for policy in self._engine.policies.values():
            if policy.predicted_service_level_under is None:
                continue
            try:
                predicted.update(await self._outlook.predicted_service_levels(policy.tenant, policy.queue))
            except Exception:  # a prediction that cannot be made must not stop the detectors' verdicts
                log.exception("surge policy %s: no predicted service level", policy.name)
        return predicted

    async def _carry_out(self, decision: Decision) -> None:
        policy = decision.policy
        actions: list[str] = []
        failed: list[str] = []
        if isinstance(decision, Engaged):
            engagement = Engagement(policy, decision.at)
            self._engagements[policy.name] = engagement
            for index, step in enumerate(policy.steps):
                await self._run(self._actions.engage, engagement, index, step, actions, failed)
            log.warning(
                "surge policy %s engaged (%s %s=%.3g, baseline %.3g, score %.2f): %s",
                policy.name,
                decision.evidence.where,
                decision.evidence.metric,
                decision.evidence.value,
                decision.evidence.baseline,
                decision.evidence.score,
                ", ".join(actions) or "no action succeeded",
            )
        else:
            found = self._engagements.pop(policy.name, None)
            engagement = found if found is not None else Engagement(policy, decision.engaged_at)
            for index, step in reversed(list(enumerate(policy.steps))):
                await self._run(self._actions.release, engagement, index, step, actions, failed)
            log.warning("surge policy %s released (%s): %s", policy.name, decision.reason, ", ".join(actions))
        try:
            await self._publish(FallbackOutcome(decision, tuple(actions), tuple(failed)))
        except Exception:  # done, not announced: the log line above says what; other decisions go on
            log.exception(
                "surge policy %s: the %s event was not published", policy.name, type(decision).__name__
            )

    async def _run(
        self,
        method: Callable[[Engagement, int, FallbackStep], Awaitable[None]],
        engagement: Engagement,
        index: int,
        step: FallbackStep,
        actions: list[str],
        failed: list[str],
    ) -> None:
        try:
            await method(engagement, index, step)
        except ActionFailed as error:
            failed.append(f"{step.describe()}: {error}")
        except Exception as error:  # one broken step must not keep the others from running
            log.exception("surge policy %s: step %s failed", engagement.policy.name, step.describe())
            failed.append(f"{step.describe()}: {type(error).__name__}: {error}")
        else:
            actions.append(step.describe())

    async def _sustain(self) -> None:
        for engagement in list(self._engagements.values()):
            for index, step in enumerate(engagement.policy.steps):
                try:
                    await self._actions.sustain(engagement, index, step)
                except Exception:  # tried again next interval
                    log.exception(
                        "surge policy %s: sustaining %s failed", engagement.policy.name, step.describe()
                    )
