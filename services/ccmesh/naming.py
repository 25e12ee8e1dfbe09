"""Names of every subject, stream and bucket on the mesh, in one place.

The operator creates a region's streams and buckets from `region_streams` and
`region_buckets`; the services use the same functions, so both always agree.

Subjects
    cc.<region>.<service>.v1.<Method>              RPC over NATS request/reply (queue group <service>)
    ccevt.<region>.<tenant>.<event_type>.<contact>  contact lifecycle events (stream events-<region>)
    ccdlq.<region>.<consumer>                       dead letters of a consumer (stream deadletter-<region>)
    $SRV.PING|INFO|STATS[.<name>[.<id>]]            NATS micro discovery
    ccpresence.<holder>                             a live process's answer (`ccmesh.presence`)
    ccaudit.<region>.<tenant>                       who read or changed what (stream audit-<region>)
"""

from __future__ import annotations

from dataclasses import dataclass

RPC_PREFIX = "cc"
EVENT_PREFIX = "ccevt"
DEAD_LETTER_PREFIX = "ccdlq"
ACTION_PREFIX = "ccact"
PRESENCE_PREFIX = "ccpresence"
AUDIT_PREFIX = "ccaudit"
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


def presence_subject(holder: str) -> str:
    return f"{PRESENCE_PREFIX}.{holder}"


def events_stream(region: str) -> StreamName:
    return StreamName(f"events-{region}", (f"{EVENT_PREFIX}.{region}.>",))


def dead_letter_stream(region: str) -> StreamName:
    return StreamName(f"deadletter-{region}", (f"{DEAD_LETTER_PREFIX}.{region}.>",))


def actions_stream(region: str) -> StreamName:
    """Inbound actions from business systems (integration service), for the services that apply them."""
    return StreamName(f"actions-{region}", (f"{ACTION_PREFIX}.{region}.>",))


def audit_stream(region: str) -> StreamName:
    """The access audit log: every read of customer data and every change, per tenant. Kept
    apart from the event stream so erasure and event retention never touch it."""
    return StreamName(f"audit-{region}", (f"{AUDIT_PREFIX}.{region}.>",))


def audit_subject(region: str, tenant_id: str) -> str:
    return f"{AUDIT_PREFIX}.{region}.{tenant_id}"


def action_subject(region: str, tenant_id: str, action: str, target_id: str) -> str:
    return f"{ACTION_PREFIX}.{region}.{tenant_id}.{action}.{target_id}"


def event_subject(region: str, tenant_id: str, event_type: str, contact_id: str) -> str:
    return f"{EVENT_PREFIX}.{region}.{tenant_id}.{event_type}.{contact_id}"


def dead_letter_subject(region: str, consumer: str) -> str:
    return f"{DEAD_LETTER_PREFIX}.{region}.{consumer}"


def region_streams(region: str) -> list[StreamName]:
    """Every stream that holds a region's data; placed on servers tagged `region:<region>`."""
    return [events_stream(region), dead_letter_stream(region), actions_stream(region), audit_stream(region)]


def region_buckets(region: str) -> list[str]:
    """Every KV bucket that holds a region's data; placed like the streams.

    The operator creates all of them with the region's placement before the services start;
    each service also creates its own on start (idempotent), for `make run` and tests.
    """
    return [
        *identity_region_buckets(region),
        gateway_bucket(region),
        integration_bucket(region),
        *ai_region_buckets(region),
        *routing_region_buckets(region),
        *routing_acd_buckets(region),
    ]


def identity_region_buckets(region: str) -> list[str]:
    """The identity service's buckets of a region (personal data; placed like the streams)."""
    return [identity_bucket(region), identity_history_bucket(region)]


def identity_bucket(region: str) -> str:
    """Customer profiles and identifier indexes (personal data)."""
    return f"identity-{region}"


def identity_history_bucket(region: str) -> str:
    """Customer timelines, contact-to-customer links, audit records and residency crossings."""
    return f"identity-history-{region}"


#: Not personal data: keyed hashes of identifiers (HMAC with a per-tenant key) -> home region.
IDENTITY_GLOBAL_INDEX_BUCKET = "identity-global-index"


def global_buckets() -> list[str]:
    """Buckets shared by every region; they hold no personal data, so they need no placement."""
    return [IDENTITY_GLOBAL_INDEX_BUCKET]


def gateway_bucket(region: str) -> str:
    """Open contacts per customer and provider-message idempotency records."""
    return f"gateway-{region}"


def integration_bucket(region: str) -> str:
    """Delivery log of events taken by the integration service."""
    return f"integration-{region}"


def attachments_bucket(region: str) -> str:
    """Object store of customers' attachment files (personal data; placed like the streams)."""
    return f"attachments-{region}"


def legal_holds_bucket(region: str) -> str:
    """Object store of the copies legal holds keep past their retention (never expires)."""
    return f"legal-holds-{region}"


def recordings_bucket(region: str) -> str:
    """Object store of call recordings (personal data; placed like the streams)."""
    return f"recordings-{region}"


def placement_tag(region: str) -> str:
    return f"region:{region}"


def ai_region_buckets(region: str) -> list[str]:
    """The ai service's buckets of a region (placed like the streams; the service creates them)."""
    return [ai_bucket(region)]


def ai_bucket(region: str) -> str:
    """The ai service's per-tenant intent training sets, knowledge bases and conversation state
    (redacted text only, but still the tenant's data: it stays in the region)."""
    return f"ai-{region}"


def ai_training_bucket(region: str) -> str:
    """Object store of intent training sets uploaded by `ccctl` and of trained intent models
    (the tenant's examples: they stay in the region; the ai service creates it)."""
    return f"ai-training-{region}"


def ai_training_progress_subject(region: str, job: str) -> str:
    """Where the ai service reports the progress of one intent training (core NATS, no stream)."""
    return f"{RPC_PREFIX}.{region}.ai.training.{job}"


def flows_bucket(region: str) -> str:
    """Published flow versions and aliases (journey definitions; no personal data)."""
    return f"flows-{region}"


def journeys_bucket(region: str) -> str:
    """Durable journey state per contact (attributes and inputs: personal data)."""
    return f"journeys-{region}"


def routing_region_buckets(region: str) -> list[str]:
    """The routing service's flow and journey buckets of a region (journeys hold personal data)."""
    return [flows_bucket(region), journeys_bucket(region)]


def acd_bucket(region: str) -> str:
    """ACD state: agent ledgers (state, held contacts), routed contacts, queues and decision records
    (contact ids and routing attributes: personal data, placed like the streams)."""
    return f"acd-{region}"


def routing_acd_buckets(region: str) -> list[str]:
    """The routing service's ACD buckets of a region (the service creates them)."""
    return [acd_bucket(region)]


def call_audio_subject(region: str, contact_id: str) -> str:
    """Where the gateway relays a call's media-stream audio to the ai service's recogniser (core
    NATS, no stream: live audio that arrives late is of no use)."""
    return f"{RPC_PREFIX}.{region}.ai.speech.audio.{contact_id}"


def call_audio_wildcard(region: str) -> str:
    return f"{RPC_PREFIX}.{region}.ai.speech.audio.*"
