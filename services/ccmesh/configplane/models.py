"""Typed config-plane documents, in the Kubernetes style (apiVersion, kind, metadata, spec).

These models are the single source of truth: `ccctl apply` validates against them, the
services read them from the config bucket, and the operator generates the ContactCenter
CRD's OpenAPI schema from them. Field names are camelCase on the wire (as Kubernetes
users expect) and snake_case in Python; every field carries a description, because
`kubectl explain` shows it.
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
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


class Brand(Model):
    id: ResourceId = Field(description="Brand id, unique inside the tenant.")
    display_name: str = Field(default="", max_length=200, description="Name shown to agents and supervisors.")


class ResidencyPolicy(Model):
    personal_data_regions: list[RegionName] = Field(
        default_factory=list,
        description=(
            "Regions, besides the home region, that may receive personal data of customers homed in "
            "this region. Empty: personal data never leaves the home region."
        ),
    )
    pseudonymous_regions: list[RegionName] = Field(
        default_factory=list,
        description=(
            "Regions that may resolve a customer of this region to a pseudonymous reference "
            "(a keyed hash and the home region), never the personal data itself."
        ),
    )


class Tenant(Model):
    id: ResourceId = Field(description="Tenant (company) id; carried by every record and call.")
    display_name: str = Field(default="", max_length=200, description="Company name.")
    brands: list[Brand] = Field(default_factory=list, description="Brands of the tenant.")
    brand_sharing: Literal["shared", "isolated"] = Field(
        default="shared",
        description=(
            "`shared`: one customer profile and agent pool across the tenant's brands; "
            "`isolated`: each brand keeps its own customers and agents."
        ),
    )
    residency: ResidencyPolicy = Field(
        default_factory=ResidencyPolicy,
        description="Where this tenant's data from this region may go.",
    )

    @model_validator(mode="after")
    def _brands_unique(self) -> Tenant:
        ids = [b.id for b in self.brands]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"brand ids must be unique within tenant {self.id!r}; repeated: {duplicates}")
        return self


class Autoscaling(Model):
    mode: Literal["hpa", "keda"] = Field(
        description="`hpa`: CPU-based HorizontalPodAutoscaler; `keda`: KEDA ScaledObject on JetStream lag."
    )
    min_replicas: int = Field(default=1, ge=1, le=1000, description="Lower bound of replicas.")
    max_replicas: int = Field(default=5, ge=1, le=1000, description="Upper bound of replicas.")
    target_cpu_utilization: int = Field(
        default=70, ge=1, le=100, description="HPA: average CPU utilisation to hold, in percent."
    )
    lag_threshold: int = Field(
        default=100, ge=1, description="KEDA: pending messages per replica on the service's consumer."
    )

    @model_validator(mode="after")
    def _bounds(self) -> Autoscaling:
        if self.min_replicas > self.max_replicas:
            raise ValueError(
                f"minReplicas ({self.min_replicas}) must not exceed maxReplicas ({self.max_replicas})"
            )
        return self


class ServiceScaling(Model):
    replicas: int = Field(
        default=1, ge=0, le=1000, description="Fixed replica count (ignored with autoscaling)."
    )
    autoscaling: Autoscaling | None = Field(default=None, description="Scale automatically instead.")


class Services(Model):
    identity: ServiceScaling = Field(default_factory=ServiceScaling, description="Identity service.")
    routing: ServiceScaling = Field(default_factory=ServiceScaling, description="Routing service.")
    gateway: ServiceScaling = Field(default_factory=ServiceScaling, description="Channel gateway.")
    ai: ServiceScaling = Field(default_factory=ServiceScaling, description="AI service.")
    integration: ServiceScaling = Field(default_factory=ServiceScaling, description="Integration service.")


class NatsSettings(Model):
    url: str = Field(
        default="",
        max_length=500,
        description=(
            "URL of this region's NATS servers, e.g. `nats://nats.eu:4222`. Empty: the operator's default "
            "(`CCOP_NATS_URL`)."
        ),
    )
    stream_replicas: int = Field(
        default=1,
        ge=1,
        le=5,
        description="Replicas of the region's streams and KV buckets (needs that many NATS servers there).",
    )
    server_labels: dict[str, str] = Field(
        default_factory=lambda: {"app.kubernetes.io/name": "nats"},
        description=(
            "Pod labels of the NATS servers. The NetworkPolicy lets this region's pods reach only NATS pods "
            "with these labels and the label `contactcenter.dev/region: <region>`."
        ),
    )
    monitoring_port: int = Field(
        default=8222, ge=1, le=65535, description="NATS monitoring port, read by KEDA's JetStream scaler."
    )


class ContactCenterSpec(Model):
    region: RegionName = Field(description="The region this resource runs; one ContactCenter per region.")
    display_name: str = Field(default="", max_length=200, description="Human-readable name of the region.")
    known_regions: list[RegionName] = Field(
        default_factory=list,
        description=(
            "Every region of the global deployment (the NATS supercluster). Residency policies may "
            "name only these. Defaults to just this region."
        ),
    )
    time_zone: str = Field(default="UTC", description="IANA time zone for the region's defaults.")
    tenants: list[Tenant] = Field(default_factory=list, description="Tenants served in this region.")
    services: Services = Field(default_factory=Services, description="Replicas and scaling per service.")
    deletion_policy: Literal["Retain", "Delete"] = Field(
        default="Retain",
        description=(
            "What happens to the region's NATS streams, KV buckets and config documents when this resource "
            "is deleted: `Retain` keeps them (the safe default), `Delete` removes them."
        ),
    )
    image: str = Field(
        default="",
        max_length=500,
        description=(
            "Container image of the services (one image, one entrypoint per service). "
            "Empty: the operator's default."
        ),
    )
    node_regions: list[str] = Field(
        default_factory=list,
        description=(
            "Values of the nodes' `topology.kubernetes.io/region` label this region's pods may run on "
            "(e.g. `eu-west-1`). Empty: the region name itself."
        ),
    )
    nats: NatsSettings = Field(
        default_factory=NatsSettings, description="How this region reaches its NATS servers."
    )

    @field_validator("time_zone")
    @classmethod
    def _known_time_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            # ValueError: not even a well-formed key (e.g. an absolute path or "..").
            raise ValueError(
                f"unknown time zone {value!r}: expected an IANA name such as 'Europe/Berlin' or 'UTC'"
            ) from None
        return value

    @model_validator(mode="after")
    def _cross_checks(self) -> ContactCenterSpec:
        known = set(self.known_regions) | {self.region}
        if self.known_regions and self.region not in self.known_regions:
            raise ValueError(f"region {self.region!r} must be listed in knownRegions {self.known_regions}")
        ids = [t.id for t in self.tenants]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ValueError(f"tenant ids must be unique; repeated: {repeated}")
        for tenant in self.tenants:
            for field, regions in (
                ("personalDataRegions", tenant.residency.personal_data_regions),
                ("pseudonymousRegions", tenant.residency.pseudonymous_regions),
            ):
                unknown = sorted(set(regions) - known)
                if unknown:
                    raise ValueError(
                        f"tenant {tenant.id!r} residency.{field} names unknown region(s) {unknown}; "
                        f"known regions: {sorted(known)}"
                    )
        return self

    def tenant(self, tenant_id: str) -> Tenant | None:
        return next((t for t in self.tenants if t.id == tenant_id), None)


class ContactCenter(Model):
    """One region of the platform: its tenants, brands, residency policy and scaling."""

    api_version: Literal["contactcenter.dev/v1alpha1"] = Field(
        alias="apiVersion", description="Versioned schema of this document."
    )
    kind: Literal["ContactCenter"] = Field(description="Always `ContactCenter`.")
    metadata: ObjectMeta = Field(description="Name and labels.")
    spec: ContactCenterSpec = Field(description="Desired state of the region.")


#: Every kind the config plane stores, by `kind`. Later issues add theirs here.
KINDS: dict[str, type[Model]] = {"ContactCenter": ContactCenter}
