"""The ContactCenter document: one region of the platform, its tenants, residency and scaling.

The operator generates the ContactCenter CRD's OpenAPI schema from these models.
"""

from __future__ import annotations

import zoneinfo
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from ccmesh.configplane.back_pressure import BackPressure
from ccmesh.configplane.base import Model, ObjectMeta, RegionName, ResourceId
from ccmesh.configplane.compliance import ComplianceSettings
from ccmesh.configplane.retention import RetentionSettings
from ccmesh.configplane.surge import SurgeSettings


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


IdentifierKindName = Literal["phone", "email", "webchat_visitor_id", "email_thread", "crm_external_id"]


def _every_identifier_kind() -> list[IdentifierKindName]:
    return ["phone", "email", "webchat_visitor_id", "email_thread", "crm_external_id"]


class IdentityMatching(Model):
    """Rule-based matching of channel identifiers to customers (as Connect Customer Profiles does)."""

    exact: list[IdentifierKindName] = Field(
        default_factory=_every_identifier_kind,
        description=(
            "Identifier kinds that resolve to the customer who owns them. A WhatsApp id is a phone "
            "number, so it follows the `phone` rule."
        ),
    )
    suggest: list[IdentifierKindName] = Field(
        default_factory=list,
        description=(
            "Identifier kinds that only suggest a match: the owner is reported as a suggestion for an "
            "agent to merge, and the identifier is not resolved to that customer."
        ),
    )

    @model_validator(mode="after")
    def _disjoint(self) -> IdentityMatching:
        both = sorted(set(self.exact) & set(self.suggest))
        if both:
            raise ValueError(f"identifier kinds cannot be both exact and suggest: {both}")
        return self


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
    identity_matching: IdentityMatching = Field(
        default_factory=IdentityMatching,
        description="Which identifier kinds resolve a customer exactly and which only suggest a match.",
    )
    default_entry_point: str = Field(
        default="",
        max_length=253,
        description=(
            "ChannelEndpoint (its metadata.name) a tenant API message without `entryPoint` enters "
            "through: its brand, journey or queue apply. Must name an endpoint of this tenant. "
            "Empty: such messages are refused."
        ),
    )
    back_pressure: BackPressure = Field(
        default_factory=BackPressure,
        description=(
            "Ceilings of waiting contacts (the tenant's, its queues'): beyond them a new contact is "
            "answered at once on its channel (expected wait, self-service link) instead of queued."
        ),
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
        default=1,
        ge=0,
        le=1000,
        description=(
            "Fixed replica count (ignored with autoscaling); 0 switches the service off in this region."
        ),
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


#: Component names are entry-point names: lowercase, digits, `_` and `-`.
ComponentName = Annotated[
    str,
    Field(
        pattern=r"^[a-z][a-z0-9_-]{0,62}$",
        max_length=63,
        description="Name of an AI component as registered (entry point in `contactcenter.ai.components`).",
    ),
]


class AiComponentStep(Model):
    name: ComponentName = Field(description="Which component runs at this step, e.g. `language`, `pii`.")
    settings: dict[str, str] = Field(
        default_factory=dict,
        description=(
            'Component settings as strings, e.g. `outOfScopeThreshold: "-0.4"`. A key ending in '
            "`Pattern` must be a valid regular expression."
        ),
    )

    @field_validator("settings")
    @classmethod
    def _patterns_compile(cls, value: dict[str, str]) -> dict[str, str]:
        import re

        for key, raw in value.items():
            if key.endswith("Pattern"):
                try:
                    re.compile(raw)
                except re.error as error:
                    raise ValueError(f"setting {key!r} is not a valid regular expression: {error}") from None
        return value


class AiPipeline(Model):
    name: ResourceId = Field(description="Pipeline name, unique in the region.")
    tenant: str = Field(
        default="",
        max_length=63,
        description="Tenant this pipeline serves; empty: every tenant without its own.",
    )
    brand: str = Field(
        default="",
        max_length=63,
        description="Brand of the tenant it serves; empty: every brand of the tenant.",
    )
    components: list[AiComponentStep] = Field(
        min_length=1, description="Components in the order they run on each message."
    )

    @model_validator(mode="after")
    def _components_unique(self) -> AiPipeline:
        names = [c.name for c in self.components]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"pipeline {self.name!r} lists component(s) {repeated} more than once")
        if self.brand and not self.tenant:
            raise ValueError(f"pipeline {self.name!r} names brand {self.brand!r} but no tenant")
        return self


class AiSettings(Model):
    pipelines: list[AiPipeline] = Field(
        default_factory=list,
        description=(
            "AI pipelines of the region, chosen per message by tenant and brand (most specific first). "
            "Empty: the default pipeline (language, intent, sentiment, pii, escalation) for everyone."
        ),
    )
    stream_insights: bool = Field(
        default=False,
        description=(
            "Analyse every inbound message on the region's event stream as it arrives and publish its "
            "insights there (`ai_insight` events) for the journey engine and the agent workspace."
        ),
    )

    @model_validator(mode="after")
    def _selectors_unique(self) -> AiSettings:
        names = [p.name for p in self.pipelines]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"AI pipeline names must be unique; repeated: {repeated}")
        selectors = [(p.tenant, p.brand) for p in self.pipelines]
        clashes = sorted({s for s in selectors if selectors.count(s) > 1})
        if clashes:
            raise ValueError(f"several AI pipelines serve the same tenant/brand: {clashes}")
        return self


class RoutingOverflowRule(Model):
    """Moves or widens a waiting contact to another queue, brand pool or region."""

    name: ResourceId = Field(description="Rule name, unique in the region; errors name it.")
    tenant: ResourceId = Field(description="Tenant whose queue the rule watches.")
    queue: str = Field(min_length=1, max_length=200, description="Queue the rule watches.")
    target_queue: str = Field(
        min_length=1, max_length=200, description="Queue that takes or also serves the contact."
    )
    target_region: RegionName | None = Field(
        default=None,
        description=(
            "Region of the target queue (follow-the-sun). Must be this region or one of the tenant's "
            "residency.personalDataRegions or residency.pseudonymousRegions (a hand-over carries no "
            "personal data: the agent there reads it from this region at view time, each read "
            "recorded as a crossing), or the rule is refused when applied."
        ),
    )
    target_brand: str = Field(
        default="", max_length=200, description="Brand whose shared pool takes the contact."
    )
    action: Literal["move", "widen"] = Field(
        default="move",
        description="`move`: the target queue takes the contact; `widen`: both queues may serve it.",
    )
    wait_seconds_over: float | None = Field(
        default=None, ge=0, description="Fires when the contact has waited longer than this many seconds."
    )
    depth_over: int | None = Field(default=None, ge=0, description="Fires when more contacts than this wait.")
    predicted_service_level_under: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Fires when the Erlang C predicted service level (0..1) drops below this.",
    )
    hysteresis_margin: int | None = Field(
        default=None,
        ge=0,
        description=(
            "With depthOver N, only the contacts beyond the first N move; a contact it moved goes back "
            "to this queue only once its depth is below N minus this margin. Default: N/5, at least 1."
        ),
    )
    cooldown_seconds: float = Field(
        default=60.0,
        ge=0,
        description="After a move, how long before any rule may move the contact again.",
    )

    @model_validator(mode="after")
    def _has_threshold(self) -> RoutingOverflowRule:
        if (
            self.wait_seconds_over is None
            and self.depth_over is None
            and self.predicted_service_level_under is None
        ):
            raise ValueError(
                f"overflow rule {self.name!r} needs a threshold: waitSecondsOver, depthOver or "
                "predictedServiceLevelUnder"
            )
        return self


class RoutingSettings(Model):
    overflow: list[RoutingOverflowRule] = Field(
        default_factory=list, description="Overflow and follow-the-sun rules, checked against residency."
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
    ai: AiSettings = Field(
        default_factory=AiSettings,
        description="AI pipelines: which components run, in which order, for whom.",
    )
    routing: RoutingSettings = Field(
        default_factory=RoutingSettings,
        description="Routing (ACD) settings of the region: overflow and follow-the-sun rules.",
    )
    surge: SurgeSettings = Field(
        default_factory=SurgeSettings,
        description="Fallback policies: engaged by themselves under surge, released when normal returns.",
    )
    retention: RetentionSettings = Field(
        default_factory=RetentionSettings,
        description=(
            "How long the region's streams and buckets keep data (maximum age, maximum size), per "
            "store; omitted stores keep the platform's defaults."
        ),
    )
    compliance: ComplianceSettings = Field(
        default_factory=ComplianceSettings,
        description=(
            "Compliance rules evaluated at run time (consent for recording and transcription, "
            "redaction before events leave the region, quiet hours, export roles); none: nothing refused."
        ),
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

    @model_validator(mode="after")
    def _ai_pipelines_serve_known_tenants(self) -> ContactCenterSpec:
        for pipeline in self.ai.pipelines:
            if not pipeline.tenant:
                continue
            tenant = self.tenant(pipeline.tenant)
            if tenant is None:
                raise ValueError(
                    f"AI pipeline {pipeline.name!r} names unknown tenant {pipeline.tenant!r}; "
                    f"tenants: {sorted(t.id for t in self.tenants)}"
                )
            if pipeline.brand and pipeline.brand not in {b.id for b in tenant.brands}:
                raise ValueError(
                    f"AI pipeline {pipeline.name!r} names brand {pipeline.brand!r}, which tenant "
                    f"{tenant.id!r} does not have"
                )
        return self

    @model_validator(mode="after")
    def _overflow_respects_residency(self) -> ContactCenterSpec:
        names = [r.name for r in self.routing.overflow]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"overflow rule names must be unique; repeated: {repeated}")
        known = set(self.known_regions) | {self.region}
        for rule in self.routing.overflow:
            tenant = self.tenant(rule.tenant)
            if tenant is None:
                raise ValueError(
                    f"overflow rule {rule.name!r} names unknown tenant {rule.tenant!r}; "
                    f"tenants: {sorted(t.id for t in self.tenants)}"
                )
            target = rule.target_region
            if target is None or target == self.region:
                continue
            if target not in known:
                raise ValueError(
                    f"overflow rule {rule.name!r} targetRegion: unknown region {target!r}; "
                    f"known regions: {sorted(known)}"
                )
            # The hand-over carries no personal data, so a pseudonymous region may take it too.
            residency = tenant.residency
            allowed = sorted({self.region, *residency.personal_data_regions, *residency.pseudonymous_regions})
            if target not in allowed:
                raise ValueError(
                    f"overflow rule {rule.name!r} targetRegion: would send tenant {tenant.id!r} contacts "
                    f"from region {self.region!r} to region {target!r}, which its residency policy "
                    f"lists neither in personalDataRegions nor in pseudonymousRegions; "
                    f"allowed regions: {allowed}"
                )
        return self

    @model_validator(mode="after")
    def _surge_policies_serve_known_tenants(self) -> ContactCenterSpec:
        names = [p.name for p in self.surge.policies]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"surge policy names must be unique; repeated: {repeated}")
        known = set(self.known_regions) | {self.region}
        for index, policy in enumerate(self.surge.policies):
            where = f"surge.policies[{index}]"
            tenant = self.tenant(policy.tenant)
            if tenant is None:
                raise ValueError(
                    f"{where}.tenant (policy {policy.name!r}): unknown tenant {policy.tenant!r}; "
                    f"tenants: {sorted(t.id for t in self.tenants)}"
                )
            residency = tenant.residency
            allowed = sorted({self.region, *residency.personal_data_regions, *residency.pseudonymous_regions})
            for number, action in enumerate(policy.actions):
                target = action.target_region
                if action.type != "overflow" or target is None or target == self.region:
                    continue
                field = f"{where}.actions[{number}].targetRegion (policy {policy.name!r})"
                if target not in known:
                    raise ValueError(f"{field}: unknown region {target!r}; known regions: {sorted(known)}")
                if target not in allowed:
                    raise ValueError(
                        f"{field}: would widen tenant {tenant.id!r} contacts of region {self.region!r} to "
                        f"region {target!r}, which its residency policy does not allow; allowed regions: "
                        f"{allowed}"
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
