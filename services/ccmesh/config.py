"""One typed config object per service, read from prefixed environment variables.

A service declares a pydantic model; `load_config(Model, "CC_")` reads `CC_<FIELD>` for every
field and validates once at start. A bad value fails fast with an error that names the
variable, e.g. `CC_GRPC_PORT: Input should be a valid integer (got 'abc')`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ccmesh.event_loop import DEFAULT_EVENT_LOOP, EventLoopName

ConfigT = TypeVar("ConfigT", bound=BaseModel)

SECRET_MARK = "secret"  # noqa: S105 - the name of a marker, not a password


class ConfigError(ValueError):
    """A configuration variable is missing or invalid; the message names it."""


class MeshConfig(BaseModel):
    """Settings every service shares. Services subclass it and add their own fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Region this instance serves; selects subjects, streams and the ContactCenter document.
    region: str = Field(default="local", pattern=r"^[a-z]([a-z0-9-]{0,30}[a-z0-9])?$")
    #: NATS server URL(s), comma separated.
    nats_url: str = "nats://127.0.0.1:4222"
    #: Shortest time between two socket writes to NATS while traffic flows, in seconds: what is
    #: published meanwhile leaves in one write (see `ccmesh.nats_connection`); 0 writes at once.
    nats_write_window_seconds: float = Field(default=0.003, ge=0, le=0.05)
    #: The event loop the service runs on (see `ccmesh.event_loop`): uvloop, or asyncio's own.
    event_loop: EventLoopName = DEFAULT_EVENT_LOOP
    #: Port of the external grpc.aio API; 0 picks a free port, -1 disables it.
    grpc_port: int = Field(default=0, ge=-1, le=65535)
    grpc_host: str = "127.0.0.1"
    #: Largest request payload the service accepts over NATS, in bytes.
    max_message_bytes: int = Field(default=512 * 1024, ge=1024)
    #: Deadline applied to RPCs whose caller sent none, in seconds.
    default_deadline_seconds: float = Field(default=10.0, gt=0)
    #: Seconds to finish in-flight work after SIGTERM.
    shutdown_grace_seconds: float = Field(default=10.0, ge=0)
    #: Shared secret that signs API tokens. Never logged.
    auth_secret: str = Field(min_length=16, repr=False, json_schema_extra={SECRET_MARK: True})
    #: Instance name shown in discovery; defaults to host-pid.
    instance_name: str = ""
    #: Replicas of the region's streams (3 in a production cluster).
    stream_replicas: int = Field(default=1, ge=1, le=5)
    #: Place the region's streams on servers tagged `region:<region>` (needs tagged servers).
    placement_by_region: bool = False
    #: Log level name.
    log_level: str = Field(default="INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$")

    def redacted(self) -> dict[str, object]:
        """The settings with secrets masked, safe to log."""
        shown: dict[str, object] = {}
        for name, field in type(self).model_fields.items():
            extra = field.json_schema_extra
            secret = isinstance(extra, dict) and bool(extra.get(SECRET_MARK))
            value = getattr(self, name)
            shown[name] = ("***" if value else "") if secret else value
        return shown


def load_config(
    model: type[ConfigT], prefix: str = "CC_", environ: Mapping[str, str] | None = None
) -> ConfigT:
    env = os.environ if environ is None else environ
    values: dict[str, str] = {}
    for name in model.model_fields:
        variable = f"{prefix}{name.upper()}"
        if variable in env:
            values[name] = env[variable]
    try:
        return model.model_validate(values)
    except ValidationError as error:
        problems = []
        for item in error.errors():
            field = str(item["loc"][0]) if item["loc"] else ""
            variable = f"{prefix}{field.upper()}"
            got = values.get(field)
            shown = ""
            if got is not None:
                shown = " (value hidden)" if _is_secret(model, field) else f" (got {got!r})"
            problems.append(f"{variable}: {item['msg']}{shown}")
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from None


def _is_secret(model: type[BaseModel], field: str) -> bool:
    info = model.model_fields.get(field)
    extra = info.json_schema_extra if info else None
    return isinstance(extra, dict) and bool(extra.get(SECRET_MARK))
