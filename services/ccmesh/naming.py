"""Names of every subject, stream and bucket on the mesh, in one place.

The operator creates a region's streams and buckets from `region_streams` and
`region_buckets`; the services use the same functions, so both always agree.

Subjects
    cc.<region>.<service>.v1.<Method>              RPC over NATS request/reply (queue group <service>)
    ccevt.<region>.<tenant>.<event_type>.<contact>  contact lifecycle events (stream events-<region>)
    ccdlq.<region>.<consumer>                       dead letters of a consumer (stream deadletter-<region>)
    $SRV.PING|INFO|STATS[.<name>[.<id>]]            NATS micro discovery
"""

from __future__ import annotations

from dataclasses import dataclass

RPC_PREFIX = "cc"
EVENT_PREFIX = "ccevt"
DEAD_LETTER_PREFIX = "ccdlq"
#: Config documents are not personal data, so one bucket serves every region.
CONFIG_BUCKET = "cc-config"


@dataclass(frozen=True)
class StreamName:
    name: str
    subjects: tuple[str, ...]


def rpc_subject(region: str, service: str, method: str) -> str:
    return f"{RPC_PREFIX}.{region}.{service}.v1.{method}"


def rpc_wildcard(region: str, service: str) -> str:
    return f"{RPC_PREFIX}.{region}.{service}.v1.*"


def events_stream(region: str) -> StreamName:
    return StreamName(f"events-{region}", (f"{EVENT_PREFIX}.{region}.>",))


def dead_letter_stream(region: str) -> StreamName:
    return StreamName(f"deadletter-{region}", (f"{DEAD_LETTER_PREFIX}.{region}.>",))


def event_subject(region: str, tenant_id: str, event_type: str, contact_id: str) -> str:
    return f"{EVENT_PREFIX}.{region}.{tenant_id}.{event_type}.{contact_id}"


def dead_letter_subject(region: str, consumer: str) -> str:
    return f"{DEAD_LETTER_PREFIX}.{region}.{consumer}"


def region_streams(region: str) -> list[StreamName]:
    """Every stream that holds a region's data; placed on servers tagged `region:<region>`."""
    return [events_stream(region), dead_letter_stream(region)]


def region_buckets(region: str) -> list[str]:
    """Every KV bucket that holds a region's data; placed like the streams."""
    return [identity_bucket(region), gateway_bucket(region), integration_bucket(region)]


def identity_bucket(region: str) -> str:
    """Customer profiles and identifier indexes (personal data)."""
    return f"identity-{region}"


def gateway_bucket(region: str) -> str:
    """Open contacts per customer and provider-message idempotency records."""
    return f"gateway-{region}"


def integration_bucket(region: str) -> str:
    """Delivery log of events taken by the integration service."""
    return f"integration-{region}"


def placement_tag(region: str) -> str:
    return f"region:{region}"
