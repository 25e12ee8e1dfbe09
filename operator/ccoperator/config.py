"""The operator's typed configuration, read once at start from `CCOP_` environment variables.

Every error names the variable, so a bad Helm value is found from the pod's log alone.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from ccmesh.telemetry import DEFAULT_SAMPLER, DEFAULT_SAMPLER_ARG

PREFIX = "CCOP_"
#: The samplers the OpenTelemetry SDK knows by name (OTEL_TRACES_SAMPLER).
SAMPLERS = (
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
)


class ConfigError(ValueError):
    """A `CCOP_` variable is missing or malformed; the message names it."""


def _text(env: Mapping[str, str], name: str, default: str) -> str:
    return env.get(PREFIX + name, default).strip()


def _number(env: Mapping[str, str], name: str, default: float, minimum: float) -> float:
    raw = env.get(PREFIX + name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{PREFIX}{name}={raw!r} is not a number") from None
    if value < minimum:
        raise ConfigError(f"{PREFIX}{name}={raw!r} must be at least {minimum}")
    return value


def _ratio(env: Mapping[str, str], name: str, default: str) -> str:
    """A share from 0 to 1, kept as written (it is handed on as an environment variable)."""
    raw = _text(env, name, default)
    if not raw:
        return ""
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{PREFIX}{name}={raw!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise ConfigError(f"{PREFIX}{name}={raw!r} must be a ratio from 0 to 1")
    return raw


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(PREFIX + name)
    if raw is None or raw.strip() == "":
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{PREFIX}{name}={raw!r} is not a boolean (use true or false)")


@dataclass(frozen=True)
class Config:
    #: Image of the services when a ContactCenter leaves `spec.image` empty (CCOP_SERVICE_IMAGE).
    service_image: str = "ghcr.io/contactcenter/platform:0.1.0"
    #: NATS URL when a ContactCenter leaves `spec.nats.url` empty (CCOP_NATS_URL).
    nats_url: str = "nats://nats:4222"
    #: Seconds between level-based re-checks of every ContactCenter's actual state (CCOP_RESYNC_SECONDS).
    resync_seconds: float = 30.0
    #: OTLP endpoint handed to the services as OTEL_EXPORTER_OTLP_ENDPOINT; empty: none (CCOP_OTEL_ENDPOINT).
    otel_endpoint: str = ""
    #: API server URL instead of the in-cluster account or kubeconfig, for emulators (CCOP_KUBE_API_URL).
    kube_api_url: str = ""
    #: Namespaces to watch, comma-separated; empty: the whole cluster (CCOP_NAMESPACES).
    namespaces: tuple[str, ...] = field(default_factory=tuple)
    #: Create streams, buckets and config documents on NATS; off only where no NATS runs (CCOP_MANAGE_NATS).
    manage_nats: bool = True
    #: Seconds to wait for NATS on each reconciliation before reporting it unreachable (CCOP_NATS_TIMEOUT).
    nats_timeout_seconds: float = 5.0
    #: The services' OTEL_TRACES_SAMPLER (CCOP_TRACES_SAMPLER); empty: the SDK's own default.
    traces_sampler: str = DEFAULT_SAMPLER
    #: The services' OTEL_TRACES_SAMPLER_ARG, the ratio of traces kept (CCOP_TRACES_SAMPLER_ARG).
    traces_sampler_arg: str = DEFAULT_SAMPLER_ARG

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Config:
        source = os.environ if env is None else env
        defaults = cls()
        image = _text(source, "SERVICE_IMAGE", defaults.service_image)
        if not image:
            raise ConfigError(f"{PREFIX}SERVICE_IMAGE must not be empty")
        nats_url = _text(source, "NATS_URL", defaults.nats_url)
        if not nats_url.startswith(("nats://", "tls://", "ws://", "wss://")):
            raise ConfigError(
                f"{PREFIX}NATS_URL={nats_url!r} must start with nats://, tls://, ws:// or wss://"
            )
        kube_api_url = _text(source, "KUBE_API_URL", "")
        if kube_api_url and not kube_api_url.startswith(("http://", "https://")):
            raise ConfigError(f"{PREFIX}KUBE_API_URL={kube_api_url!r} must start with http:// or https://")
        namespaces = tuple(n.strip() for n in _text(source, "NAMESPACES", "").split(",") if n.strip())
        sampler = _text(source, "TRACES_SAMPLER", defaults.traces_sampler)
        if sampler and sampler not in SAMPLERS:
            raise ConfigError(f"{PREFIX}TRACES_SAMPLER={sampler!r} is not one of {', '.join(SAMPLERS)}")
        sampler_arg = _ratio(source, "TRACES_SAMPLER_ARG", defaults.traces_sampler_arg)
        return cls(
            service_image=image,
            nats_url=nats_url,
            resync_seconds=_number(source, "RESYNC_SECONDS", defaults.resync_seconds, minimum=0.05),
            otel_endpoint=_text(source, "OTEL_ENDPOINT", ""),
            kube_api_url=kube_api_url,
            namespaces=namespaces,
            manage_nats=_flag(source, "MANAGE_NATS", defaults.manage_nats),
            nats_timeout_seconds=_number(source, "NATS_TIMEOUT", defaults.nats_timeout_seconds, minimum=0.1),
            traces_sampler=sampler,
            traces_sampler_arg=sampler_arg,
        )
