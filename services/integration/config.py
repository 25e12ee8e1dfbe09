"""Integration service settings (env prefix CC_)."""

from __future__ import annotations

from pydantic import Field, model_validator

from ccmesh.config import MeshConfig


class IntegrationConfig(MeshConfig):
    #: Local mode: http:// endpoints are accepted (for receivers on the developer's machine).
    local_mode: bool = False
    #: Events fetched per subscription at a time (delivered concurrently across contacts).
    delivery_batch: int = Field(default=256, ge=1, le=1024)
    #: Failed attempts (breaker closed) before an event is dead-lettered.
    delivery_max_attempts: int = Field(default=12, ge=1, le=1000)
    #: Seconds after an event's first attempt after which it is dead-lettered in any case.
    delivery_retry_budget_seconds: float = Field(default=24 * 3600, gt=0)
    #: First retry delay in seconds; doubles per attempt (with jitter) up to the maximum.
    delivery_backoff_base_seconds: float = Field(default=0.5, gt=0)
    delivery_backoff_max_seconds: float = Field(default=60.0, gt=0)
    #: Per-request timeout of a webhook POST, in seconds.
    delivery_timeout_seconds: float = Field(default=10.0, gt=0)
    #: Consecutive failures that open an endpoint's circuit breaker, and its first cool-down.
    breaker_threshold: int = Field(default=5, ge=1)
    breaker_cooldown_seconds: float = Field(default=1.0, gt=0)
    breaker_max_cooldown_seconds: float = Field(default=30.0, gt=0)
    #: Seconds a subscription's delivery lease lasts without renewal (a crashed instance's
    #: subscriptions move to another replica after this).
    delivery_lease_seconds: float = Field(default=10.0, ge=1.0)
    #: Port of the HTTPS inbound actions API; 0 picks a free port, -1 disables it.
    actions_http_port: int = Field(default=-1, ge=-1, le=65535)
    actions_http_host: str = "127.0.0.1"
    #: TLS certificate chain and key (PEM) of the actions API; required unless in local mode.
    actions_tls_cert_file: str = ""
    actions_tls_key_file: str = ""
    #: Directory of the region's analytics store (Parquet files, fed from the event stream);
    #: empty: this instance keeps none and GetReport answers UNIMPLEMENTED.
    analytics_dir: str = ""
    #: Days the analytics store keeps a contact (whole UTC days of arrival are removed after
    #: this); the default covers the longest report (400 days).
    analytics_retention_days: int = Field(default=400, ge=1, le=3650)
    #: Seconds of events the analytics store gathers into one commit (reports lag by about
    #: this much; each commit writes files, fsyncs and the manifest).
    analytics_commit_seconds: float = Field(default=1.0, ge=0.0, le=60.0)

    @model_validator(mode="after")
    def _tls_outside_local_mode(self) -> IntegrationConfig:
        without_tls = not (self.actions_tls_cert_file and self.actions_tls_key_file)
        if self.actions_http_port >= 0 and not self.local_mode and without_tls:
            raise ValueError(
                "actions_tls_cert_file and actions_tls_key_file are required for the actions API "
                "outside local mode (set CC_ACTIONS_TLS_CERT_FILE and CC_ACTIONS_TLS_KEY_FILE)"
            )
        if bool(self.actions_tls_cert_file) != bool(self.actions_tls_key_file):
            raise ValueError("set both actions_tls_cert_file and actions_tls_key_file, or neither")
        return self
