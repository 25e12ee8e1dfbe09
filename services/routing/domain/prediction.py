"""A queue's predicted service level, from what the queue actually saw (pure).

Inputs, each measured rather than assumed:

- arrivals: contacts that entered the queue in the last 15 minutes (a sliding window), as a
  rate per hour, so a burst stops weighing on the prediction 15 minutes after it ended;
  contacts handed to another region left this queue's load and are not counted;
- handle time: per queue and channel, exponentially smoothed over finished contacts
  (`handle_time`), the channel's default before any finished;
- staffed agents: agents in a routable state (available, or busy with room to spare) who can
  take the queue's contacts: they serve its brand (or the tenant shares agents), have its skills
  at the widest bullseye ring's level, have capacity on the channel, and, while the queue
  requires the contact's language throughout, speak a language of a contact waiting there;
- patience: how long customers wait before leaving, estimated from the window's contacts as
  (abandoned + 1) / (seconds waited + the channel's default patience): with no data it is the
  default; with data it tends to the maximum-likelihood estimate for exponential patience
  (abandonments per second of waiting, answered and still-waiting contacts included).

Two forecasts: Erlang C (no abandonment; the classic figure for voice) on the arrivals that
stayed until answered, and Erlang A (`erlang_a`) on all arrivals with the measured patience,
which stays finite when the queue is overloaded and applies to every channel.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from ccmesh.channels import Channel
from routing.domain.agents import AgentProfile, AgentState
from routing.domain.erlang_a import (
    AbandonmentForecast,
    StaffingAnswer,
    agents_for_target,
    answered_in_time_at_position,
    erlang_a,
    wait_at_position,
)
from routing.domain.erlang_c import ServiceLevelForecast, forecast
from routing.domain.handle_time import HandleTime, estimate
from routing.domain.language_rule import LanguageMode
from routing.domain.matching import serves_brand
from routing.domain.queueing import QueueSpec

#: How far back arrivals and patience are measured.
ARRIVAL_WINDOW_SECONDS = 900.0

#: Seconds a customer is assumed to wait before giving up, before any was seen to.
DEFAULT_PATIENCE_SECONDS: dict[Channel, float] = {
    Channel.VOICE: 180.0,
    Channel.WEBCHAT: 300.0,
    Channel.API: 300.0,
    Channel.SMS: 1800.0,
    Channel.WHATSAPP: 1800.0,
    Channel.TASK: 3600.0,
    Channel.EMAIL: 14400.0,
}
DEFAULT_ANY_CHANNEL_PATIENCE = 300.0

_ROUTABLE = (AgentState.AVAILABLE, AgentState.BUSY)


@dataclass(frozen=True, slots=True)
class ContactSample:
    """One contact of the queue (on the channel asked about), as the prediction needs it."""

    enqueued_at: float
    #: When an agent accepted it; 0: not (yet).
    answered_at: float = 0.0
    #: When it finished (completed, or abandoned); 0: not yet.
    closed_at: float = 0.0
    #: Closed before any agent accepted it: the customer gave up.
    abandoned: bool = False
    #: Handed to another region: no longer this queue's load.
    left: bool = False


@dataclass(frozen=True, slots=True)
class StaffCandidate:
    profile: AgentProfile
    state: AgentState


@dataclass(frozen=True)
class QueuePrediction:
    arrivals_per_hour: float
    #: Arrivals of the window that gave up before an answer.
    abandoned: int
    handle: HandleTime
    patience_seconds: float
    staffed_agents: int
    erlang_c: ServiceLevelForecast
    erlang_a: AbandonmentForecast

    @property
    def service_level(self) -> float:
        """The predicted service level supervisors are shown (`GetQueueStats`) and overflow rules
        compare with `predictedServiceLevelUnder`: Erlang C's, 0 when unstaffed or overloaded."""
        return self.erlang_c.service_level

    @property
    def overloaded(self) -> bool:
        """More work stays until answered than the staffed agents can handle (Erlang C)."""
        traffic = self.erlang_c.traffic_erlangs
        return traffic > 0 and traffic >= self.staffed_agents


def can_staff(
    candidate: StaffCandidate, queue: QueueSpec, channel: Channel | None, languages: frozenset[str]
) -> bool:
    """Whether the agent counts as staffing the queue (see the module docstring)."""
    profile = candidate.profile
    if candidate.state not in _ROUTABLE or not serves_brand(profile, queue):
        return False
    level = queue.rings[-1].min_proficiency
    if any(profile.skills.get(skill, 0) < level for skill in queue.required_skills):
        return False
    capacity = profile.capacity
    if channel is None:
        if not any(limit > 0 for limit in capacity.values()):
            return False
    elif capacity.get(channel, 0) <= 0:
        return False
    strict = all(step.mode is LanguageMode.REQUIRED for step in queue.language.steps)
    return not (strict and languages and profile.languages.isdisjoint(languages))


def handle_durations(samples: Iterable[ContactSample]) -> list[float]:
    """Handle times of the finished contacts, in the order they finished."""
    done = sorted((s for s in samples if s.answered_at and s.closed_at), key=lambda s: s.closed_at)
    return [s.closed_at - s.answered_at for s in done]


def default_patience(channel: Channel | None) -> float:
    return DEFAULT_ANY_CHANNEL_PATIENCE if channel is None else DEFAULT_PATIENCE_SECONDS.get(channel, 300.0)


@dataclass(frozen=True)
class QueueInputs:
    """What the forecasts start from, measured as the module docstring says."""

    arrivals_per_hour: float
    #: Arrivals per hour that stayed until answered (Erlang C's load).
    stayed_per_hour: float
    abandoned: int
    handle: HandleTime
    patience_seconds: float
    staffed_agents: int


def measure_inputs(
    queue: QueueSpec,
    samples: Iterable[ContactSample],
    staff: Iterable[StaffCandidate],
    now: float,
    *,
    channel: Channel | None = None,
    waiting_languages: frozenset[str] = frozenset(),
    window_seconds: float = ARRIVAL_WINDOW_SECONDS,
) -> QueueInputs:
    contacts = [s for s in samples if not s.left]
    since = now - window_seconds
    recent = [s for s in contacts if since < s.enqueued_at <= now]
    abandoned = sum(1 for s in recent if s.abandoned)
    waited = sum(_waited(s, now) for s in recent)
    return QueueInputs(
        arrivals_per_hour=len(recent) * 3600.0 / window_seconds,
        stayed_per_hour=(len(recent) - abandoned) * 3600.0 / window_seconds,
        abandoned=abandoned,
        handle=estimate(handle_durations(contacts), channel),
        patience_seconds=(waited + default_patience(channel)) / (abandoned + 1),
        staffed_agents=sum(1 for c in staff if can_staff(c, queue, channel, waiting_languages)),
    )


def predict(
    queue: QueueSpec,
    samples: Iterable[ContactSample],
    staff: Iterable[StaffCandidate],
    now: float,
    target_answer_seconds: float,
    *,
    channel: Channel | None = None,
    waiting_languages: frozenset[str] = frozenset(),
    window_seconds: float = ARRIVAL_WINDOW_SECONDS,
) -> QueuePrediction:
    """Forecasts for `queue` (on `channel`, or every channel) from its contacts and the agents."""
    inputs = measure_inputs(
        queue,
        samples,
        staff,
        now,
        channel=channel,
        waiting_languages=waiting_languages,
        window_seconds=window_seconds,
    )
    handle, patience, staffed = inputs.handle, inputs.patience_seconds, inputs.staffed_agents
    return QueuePrediction(
        arrivals_per_hour=inputs.arrivals_per_hour,
        abandoned=inputs.abandoned,
        handle=handle,
        patience_seconds=patience,
        staffed_agents=staffed,
        erlang_c=forecast(inputs.stayed_per_hour, handle.seconds, staffed, target_answer_seconds),
        erlang_a=erlang_a(inputs.arrivals_per_hour, handle.seconds, staffed, target_answer_seconds, patience),
    )


def next_arrival_wait(inputs: QueueInputs | QueuePrediction, waiting: int) -> float:
    """The wait (seconds) a contact arriving now behind `waiting` others can expect, until an
    agent answers it if it stays (`erlang_a.wait_at_position`); inf when nobody staffs the queue.
    With nobody waiting, a staffed queue offers it at once: 0."""
    if inputs.staffed_agents == 0:
        return math.inf
    if waiting == 0:
        return 0.0
    return wait_at_position(
        waiting + 1, inputs.staffed_agents, inputs.handle.seconds, inputs.patience_seconds
    )


def next_arrival_service_level(
    inputs: QueueInputs | QueuePrediction, waiting: int, target_answer_seconds: float
) -> float:
    """The chance a contact arriving now behind `waiting` others is answered within the target
    (`erlang_a.answered_in_time_at_position`): 0 when nobody staffs the queue; with nobody
    waiting, 1 (a staffed queue offers it at once), as `next_arrival_wait` says 0."""
    if inputs.staffed_agents == 0:
        return 0.0
    if waiting == 0:
        return 1.0
    return answered_in_time_at_position(
        waiting + 1,
        inputs.staffed_agents,
        inputs.handle.seconds,
        inputs.patience_seconds,
        target_answer_seconds,
    )


def staffing(
    prediction: QueuePrediction, target_answer_seconds: float, answered_fraction: float
) -> StaffingAnswer:
    """How many agents would reach the target on the window's arrivals, handle time and patience
    (Erlang A): the answer to "how many more agents do we need" during a surge."""
    return agents_for_target(
        prediction.arrivals_per_hour,
        prediction.handle.seconds,
        target_answer_seconds,
        answered_fraction,
        prediction.patience_seconds,
    )


def _waited(sample: ContactSample, now: float) -> float:
    """Seconds the contact spent waiting: until answered, until it gave up, or until now."""
    end = sample.answered_at or (sample.closed_at if sample.abandoned else 0.0) or now
    return max(0.0, min(end, now) - sample.enqueued_at)
