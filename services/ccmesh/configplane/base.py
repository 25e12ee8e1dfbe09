"""Shared pieces of every config-plane document: API version, names, metadata, the base model."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

API_GROUP = "contactcenter.dev"
API_VERSION = f"{API_GROUP}/v1alpha1"

#: Region names become NATS placement tags (`region:<name>`), stream names and DNS labels.
RegionName = Annotated[
    str,
    Field(
        pattern=r"^[a-z]([a-z0-9-]{0,30}[a-z0-9])?$",
        max_length=32,
        description="Region name: lowercase letters, digits and dashes, e.g. `eu` or `ap-southeast`.",
    ),
]
#: Tenant and brand ids appear in NATS subjects, so they are single subject tokens.
ResourceId = Annotated[
    str,
    Field(
        pattern=r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$",
        max_length=63,
        description="Identifier: lowercase letters, digits and dashes (a DNS label).",
    ),
]


class Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        alias_generator=to_camel,
        validate_default=True,
        frozen=True,
    )


class ObjectMeta(Model):
    name: ResourceId = Field(description="Name of the resource, unique per kind.")
    namespace: str | None = Field(default=None, description="Kubernetes namespace, when applied as a CR.")
    labels: dict[str, str] = Field(default_factory=dict, description="Free-form labels.")
    generation: int = Field(
        default=0, ge=0, description="Set by the config plane: increases by one on every change of spec."
    )
    resource_version: str = Field(
        default="", description="Set by the config plane: the stored revision, for optimistic concurrency."
    )
    creation_timestamp: datetime | None = Field(
        default=None, description="Set by the config plane: when the resource was first stored (UTC)."
    )
