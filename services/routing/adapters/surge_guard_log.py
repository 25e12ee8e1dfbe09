"""Which fallback policies were engaged when routing stopped, read back from the region's stream.

Each policy's engagements and releases are events of its own contact token (`surge-<policy>`, see
`surge_guard_codec`), so the last of each kind is one direct get by subject: two requests per
policy, whatever the stream's length. A policy is still engaged when its last engagement was
stored after its last release.
"""

from __future__ import annotations

from collections.abc import Sequence

from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError

from ccmesh import naming
from ccmesh.contact_history import HistoryReadError
from contactcenter.events.v1 import events_pb2
from routing.adapters.surge_guard_codec import policy_contact_id
from routing.domain.fallback import Evidence, FallbackPolicy
from routing.domain.fallback_engine import StillEngaged


class StreamEngagementLog:
    def __init__(self, js: JetStreamContext, region: str) -> None:
        self._js = js
        self._region = region

    async def __call__(self, policies: Sequence[FallbackPolicy]) -> list[StillEngaged]:
        found: list[StillEngaged] = []
        for policy in policies:
            engaged = await self._last(policy, "fallback_engaged")
            if engaged is None:
                continue
            released = await self._last(policy, "fallback_released")
            if released is not None and released[0] > engaged[0]:
                continue
            still = still_engaged(engaged[1])
            if still is not None and still.policy == policy.name:
                found.append(still)
        return found

    async def _last(self, policy: FallbackPolicy, kind: str) -> tuple[int, events_pb2.Event] | None:
        """(stream sequence, event) of the policy's last event of `kind`, or None."""
        stream = naming.events_stream(self._region).name
        subject = naming.event_subject(self._region, policy.tenant, kind, policy_contact_id(policy.name))
        try:
            message = await self._js.get_msg(stream, subject=subject, direct=True)
        except NotFoundError:
            return None
        except (NoRespondersError, NatsTimeoutError) as err:
            raise HistoryReadError(f"stream {stream!r} did not answer a read of {subject}") from err
        event = events_pb2.Event()
        event.ParseFromString(message.data or b"")
        return message.seq or 0, event


def still_engaged(event: events_pb2.Event) -> StillEngaged | None:
    """The engagement a `FallbackEngaged` event announced (None for another event)."""
    if event.WhichOneof("payload") != "fallback_engaged":
        return None
    engaged = event.fallback_engaged
    evidence = engaged.evidence
    return StillEngaged(
        policy=engaged.policy,
        engaged_at=event.occurred_at.ToNanoseconds() / 1e9,
        evidence=Evidence(evidence.metric, evidence.value, evidence.baseline, evidence.score, evidence.where),
        manual=engaged.manual,
    )
