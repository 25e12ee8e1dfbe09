"""Gateway settings (env prefix CC_)."""

from pydantic import Field

from ccmesh.config import MeshConfig


class GatewayConfig(MeshConfig):
    #: Port of the HTTP side (health, provider APIs); -1 turns it off, 0 picks a free port.
    http_port: int = Field(default=-1, ge=-1, le=65535)
    http_host: str = "127.0.0.1"
    #: Public base URL providers call (e.g. https://cc.example.com); Twilio signs that URL, so it
    #: is needed behind a proxy. Empty: the request's own scheme and host.
    public_base_url: str = Field(default="", max_length=2000, pattern=r"^(https?://[^\s/?#]+(/[^\s?#]*)?)?$")
    #: Largest HTTP request body accepted, in bytes (larger: 413 before the body is read).
    http_max_body_bytes: int = Field(default=128 * 1024, ge=1024, le=64 * 1024 * 1024)
    #: Seconds a connection may stay without a complete request head, after it opens or after
    #: its last answer; a client trickling its headers is closed after it too. Longer than the
    #: usual 60 s upstream keep-alive of proxies, so a proxy never reuses a connection we closed.
    http_idle_seconds: float = Field(default=75.0, gt=0, le=3600)
    #: Seconds a request body may take to arrive once its head is in (longer: 408, closed).
    http_body_seconds: float = Field(default=30.0, gt=0, le=600)
    #: Longest request line (method, path and query, version), in bytes (longer: 400, closed,
    #: before any route).
    http_max_line_bytes: int = Field(default=8190, ge=1024, le=65536)
    #: Longest header line (name and value), in bytes (longer: 400, closed, before any route).
    http_max_field_bytes: int = Field(default=8190, ge=1024, le=65536)
    #: Most headers one request may carry (more: 400, closed, before any route).
    http_max_headers: int = Field(default=128, ge=16, le=1024)
    #: Requests per second a source address may send that prove no caller (no or a wrong
    #: signature or token, an unknown endpoint) before it is answered 429; signed requests
    #: never spend it, and are checked before it.
    http_unverified_per_second: float = Field(default=5.0, gt=0, le=10000)
    #: Such requests a source address may burst above its sustained rate.
    http_unverified_burst: int = Field(default=20, ge=1, le=100000)
    #: Sustained requests per second per tenant on the bearer-token tenant API.
    tenant_rate_per_second: float = Field(default=200.0, gt=0)
    #: Requests a tenant may burst above its sustained rate on the tenant API.
    tenant_rate_burst: int = Field(default=400, ge=1)
    #: Web chat and workspace sockets: seconds of client silence before closing with 4408.
    socket_idle_seconds: float = Field(default=120.0, gt=0, le=3600)
    #: Messages per second one socket may send (bursts of twice that) before closing with 4429.
    socket_messages_per_second: float = Field(default=20.0, gt=0, le=10000)
    #: Open sockets per tenant (web chat and workspace counted apart); more are closed with 4429.
    socket_connections_per_tenant: int = Field(default=500, ge=1, le=1000000)
    #: Presence heartbeat the workspace sends routing for each open agent socket, in seconds.
    agent_heartbeat_seconds: float = Field(default=5.0, gt=0, le=300)
    #: Port of the inbound SMTP listener (e-mail channel); -1 turns it off, 0 picks a free port.
    smtp_port: int = Field(default=-1, ge=-1, le=65535)
    smtp_host: str = "127.0.0.1"
    #: Largest inbound e-mail accepted, in bytes (larger: 552 before the data is taken).
    smtp_max_message_bytes: int = Field(default=10 * 1024 * 1024, ge=1024, le=100 * 1024 * 1024)
    #: Provider calls made for one outbound message before it is reported failed.
    outbound_max_attempts: int = Field(default=5, ge=1, le=20)
    #: First retry delay of an outbound message, in seconds; each further retry doubles it.
    outbound_retry_seconds: float = Field(default=1.0, gt=0, le=300)
    #: Seconds after which a provider message still claimed by a gateway that cannot be asked
    #: whether it lives (no answer) is taken over; a gateway known to be gone loses it at once.
    claim_expiry_seconds: float = Field(default=30.0, gt=0)
    #: Routing's offer timeout (its CC_ACD_OFFER_TIMEOUT_SECONDS), shown to agents as a countdown.
    agent_offer_timeout_seconds: float = Field(default=20.0, gt=0, le=3600)
    #: Stream every voice call's audio (both tracks) to the gateway's media WebSocket for live
    #: transcription by the ai service (CC_VOICE_MEDIA_STREAMS): the voice TwiML starts with
    #: `<Start><Stream>`.
    voice_media_streams: bool = False
