"""Handle time per queue and channel, measured as contacts finish (pure).

The prediction needs how long an agent spends on one contact. It is measured from the contacts
the queue finished (accepted -> completed) and smoothed exponentially, so a change of the mix
shows within a few dozen contacts while one long call does not swing it:

    estimate <- ALPHA · newest + (1 - ALPHA) · estimate

Before the first finished contact the estimate is the channel's default below (a live chat is
shorter than an e-mail), and each finished contact pulls it toward what is measured.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ccmesh.channels import Channel

#: Weight of the newest finished contact in the estimate.
ALPHA = 0.2

#: Seconds assumed per contact before any contact of the queue and channel was measured.
DEFAULT_HANDLE_SECONDS: dict[Channel, float] = {
    Channel.VOICE: 300.0,
    Channel.WEBCHAT: 420.0,
    Channel.API: 420.0,
    Channel.SMS: 600.0,
    Channel.WHATSAPP: 600.0,
    Channel.TASK: 600.0,
    Channel.EMAIL: 900.0,
}
#: For a queue's figure over every channel before anything was measured.
DEFAULT_ANY_CHANNEL_SECONDS = 300.0


@dataclass(frozen=True, slots=True)
class HandleTime:
    seconds: float
    #: Finished contacts the estimate is made of (0: it is the default).
    samples: int

    @property
    def measured(self) -> bool:
        return self.samples > 0


def default_handle_seconds(channel: Channel | None) -> float:
    return DEFAULT_ANY_CHANNEL_SECONDS if channel is None else DEFAULT_HANDLE_SECONDS.get(channel, 300.0)


def estimate(durations: Iterable[float], channel: Channel | None, alpha: float = ALPHA) -> HandleTime:
    """The smoothed handle time of `durations` (seconds, oldest first), from the channel's default.

    Durations that are not positive (a clock step, a contact completed the instant it was
    accepted) carry no information and are skipped.
    """
    seconds = default_handle_seconds(channel)
    samples = 0
    for duration in durations:
        if duration > 0:
            seconds = alpha * duration + (1 - alpha) * seconds
            samples += 1
    return HandleTime(seconds, samples)
