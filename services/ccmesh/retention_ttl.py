"""The per-message time to live each event type gets in this process, per region.

A data class that shares the event stream with others (transcripts, messages) may expire sooner
than the stream's maximum age (`spec.retention.dataClasses`): its events are published with a
`Nats-TTL` header and nats-server removes each one when its time is up. The region's stores are
brought to the policy first (`ccmesh.stores.RegionStores`, which allows message TTLs on the
streams), then `apply` makes the publishers of this process add the header.
"""

from __future__ import annotations

from collections.abc import Mapping

from ccmesh import naming
from ccmesh.retention import RetentionPolicy, event_ttls

#: NATS's header for a message's own time to live (whole seconds, or a Go duration).
TTL_HEADER = "Nats-TTL"

_BY_REGION: dict[str, Mapping[str, int]] = {}


def apply(region: str, policy: RetentionPolicy) -> None:
    """From now on, events of `region` get the per-message TTLs of `policy` (none: no header)."""
    ttls = event_ttls(policy)
    if ttls:
        _BY_REGION[region] = ttls
    else:
        _BY_REGION.pop(region, None)


def ttl_of(region: str, event_type: str) -> int:
    """Seconds an event of `event_type` lives in `region` by its own TTL; 0 when it has none."""
    ttls = _BY_REGION.get(region)
    return ttls.get(event_type, 0) if ttls else 0


def publish_headers(region: str, event_type: str, msg_id: str) -> dict[str, str]:
    """Publish headers of an event of `event_type` in `region`: its de-duplication id, and its
    TTL when its type has one."""
    headers = {"Nats-Msg-Id": msg_id}
    ttl = ttl_of(region, event_type)
    if ttl:
        headers[TTL_HEADER] = str(ttl)
    return headers


def event_headers(subject: str, msg_id: str) -> dict[str, str]:
    """`publish_headers` of an event already addressed to `subject` (`naming.event_subject`)."""
    parts = subject.split(".")
    if len(parts) >= 5 and parts[0] == naming.EVENT_PREFIX:
        return publish_headers(parts[1], parts[3], msg_id)
    return {"Nats-Msg-Id": msg_id}
