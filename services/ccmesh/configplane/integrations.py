"""Integration kinds: webhook subscriptions and connectors to business systems."""

from __future__ import annotations

from typing import Literal

import cel
from pydantic import Field, field_validator, model_validator

from ccmesh.configplane.base import Model, ObjectMeta, RegionName, ResourceId
from contactcenter.events.v1 import events_pb2

#: Event types a webhook subscription may name: the payload names of `contactcenter.events.v1.Event`.
WEBHOOK_EVENT_TYPES = tuple(
    field.name for field in events_pb2.Event.DESCRIPTOR.oneofs_by_name["payload"].fields
)


def _compiles(expression: str) -> str:
    """`expression` when it is valid CEL; a ValueError carrying the compiler's message otherwise."""
    if expression.strip():
        try:
            cel.compile(expression)
        except (ValueError, RuntimeError) as error:
            raise ValueError(f"CEL expression does not compile: {' '.join(str(error).split())}") from None
    return expression


class WebhookSubscriptionSpec(Model):
    tenant: ResourceId = Field(description="Tenant whose events are delivered.")
    endpoint_region: RegionName = Field(
        description=(
            "Region the endpoint is registered in. Events carrying personal data go to it only when it is "
            "the event's region or listed in the tenant's residency.personalDataRegions there."
        )
    )
    url: str = Field(
        min_length=1,
        max_length=2000,
        description="Endpoint URL; https:// (http:// only when the integration service runs in local mode).",
    )
    secret: str = Field(
        default="",
        description="Standard Webhooks signing secret, `whsec_<base64>` (at least 24 bytes). Never logged.",
    )
    event_types: list[str] = Field(
        default_factory=list, description="Event types to deliver, e.g. `contact_created`; empty: every type."
    )
    filter: str = Field(
        default="",
        max_length=4000,
        description=(
            "Optional CEL expression over `event` (the JSON body); events where it is false are skipped."
        ),
    )
    enabled: bool = Field(default=True, description="False pauses delivery; events wait on the stream.")

    @field_validator("filter")
    @classmethod
    def _filter_compiles(cls, value: str) -> str:
        return _compiles(value)

    @field_validator("secret")
    @classmethod
    def _secret_present(cls, value: str) -> str:
        # The value is never quoted back: error messages end up in logs.
        if not value:
            raise ValueError("a signing secret is required: whsec_ followed by a base64 key")
        if not value.startswith("whsec_"):
            raise ValueError("must start with 'whsec_' followed by a base64 key")
        if len(value) > 200:
            raise ValueError(f"must be at most 200 characters, got {len(value)}")
        return value

    @field_validator("event_types")
    @classmethod
    def _known_event_types(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(WEBHOOK_EVENT_TYPES))
        if unknown:
            raise ValueError(f"unknown event type(s) {unknown}; known: {list(WEBHOOK_EVENT_TYPES)}")
        return value


class WebhookSubscription(Model):
    """Which of a tenant's events go to which endpoint, signed with which secret."""

    api_version: Literal["contactcenter.dev/v1alpha1"] = Field(
        alias="apiVersion", description="Versioned schema of this document."
    )
    kind: Literal["WebhookSubscription"] = Field(description="Always `WebhookSubscription`.")
    metadata: ObjectMeta = Field(description="Name (unique across tenants) and labels.")
    spec: WebhookSubscriptionSpec = Field(description="Events, endpoint and secret.")


class ConnectorRequest(Model):
    event_type: str = Field(
        description="Event type that triggers the request, e.g. `ai_ticket` or `contact_closed`."
    )
    method: Literal["POST", "PUT", "PATCH"] = Field(default="POST", description="HTTP method.")
    path: str = Field(
        min_length=1,
        max_length=500,
        description=(
            "Path under baseUrl; `{contactId}`, `{tenantId}` and `{eventId}` are replaced, e.g. "
            "`/tickets/external/{contactId}` (PUT there creates or updates the contact's ticket)."
        ),
    )
    fields: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "The JSON body: field name -> CEL expression over `event` (the webhook body), e.g. "
            "`subject: event.data.title`."
        ),
    )

    @field_validator("fields")
    @classmethod
    def _fields_compile(cls, value: dict[str, str]) -> dict[str, str]:
        for name, expression in value.items():
            if not expression.strip():
                raise ValueError(f"field {name!r}: an expression is required")
            try:
                _compiles(expression)
            except ValueError as error:
                raise ValueError(f"field {name!r}: {error}") from None
        return value

    @field_validator("event_type")
    @classmethod
    def _known_event_type(cls, value: str) -> str:
        if value not in WEBHOOK_EVENT_TYPES:
            raise ValueError(f"unknown event type {value!r}; known: {list(WEBHOOK_EVENT_TYPES)}")
        return value


class CustomerLookup(Model):
    path: str = Field(
        min_length=1,
        max_length=500,
        description=(
            "GET path under baseUrl when a contact is created; `{identifier}` is the customer's identifier "
            "(URL-encoded), e.g. `/customers?phone={identifier}`."
        ),
    )
    attributes: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "Contact attributes to set from the answer: attribute name -> CEL expression over `customer` "
            "(the JSON answer), e.g. `crmId: customer.id`."
        ),
    )

    @field_validator("attributes")
    @classmethod
    def _attributes_compile(cls, value: dict[str, str]) -> dict[str, str]:
        for name, expression in value.items():
            try:
                _compiles(expression)
            except ValueError as error:
                raise ValueError(f"attribute {name!r}: {error}") from None
        return value


#: Integrations routing answers itself (from its queues): a connector cannot claim them.
PLATFORM_INTEGRATIONS = frozenset({"queue-status", "wait-time-estimate"})
#: Placeholders a flow integration's path may use besides its `params`.
FLOW_PATH_PLACEHOLDERS = ("identifier", "contactId", "tenantId")


class FlowIntegration(Model):
    name: ResourceId = Field(
        description=(
            "The logical integration a journey's `integration` node names, e.g. `crm-account`: "
            "the step calls this connector instead of waiting for a flow event."
        )
    )
    path: str = Field(
        min_length=1,
        max_length=500,
        description=(
            "GET path under baseUrl; `{identifier}` (the customer's identifier from the contact's "
            "opening event), `{contactId}`, `{tenantId}` and each name in `params` are replaced "
            "(URL-encoded), e.g. `/accounts?phone={identifier}`."
        ),
    )
    params: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "Path values: name -> CEL expression over `inputs` (what the journey hands over: `intent`, "
            "`language`, `channel`, its attributes) and `contact` (`id`, `identifier`, `brand`)."
        ),
    )
    fields: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "What the journey gets: field name -> CEL expression over `response` (the JSON answer), "
            "e.g. `tier: response.tier`. Empty: the answer's top-level fields as they are."
        ),
    )

    @field_validator("name")
    @classmethod
    def _not_a_platform_integration(cls, value: str) -> str:
        if value in PLATFORM_INTEGRATIONS:
            raise ValueError(f"{value!r} is answered by the platform itself; choose another name")
        return value

    @field_validator("params", "fields")
    @classmethod
    def _mappings_compile(cls, value: dict[str, str]) -> dict[str, str]:
        for name, expression in value.items():
            if not expression.strip():
                raise ValueError(f"{name!r}: an expression is required")
            try:
                _compiles(expression)
            except ValueError as error:
                raise ValueError(f"{name!r}: {error}") from None
        return value

    @model_validator(mode="after")
    def _known_placeholders(self) -> FlowIntegration:
        known = (*FLOW_PATH_PLACEHOLDERS, *self.params)
        named = [part.split("}", 1)[0] for part in self.path.split("{")[1:]]
        unknown = [name for name in named if name not in known]
        if unknown:
            raise ValueError(f"path: unknown placeholder(s) {unknown}; known: {list(known)}")
        return self


class IntegrationConnectorSpec(Model):
    tenant: ResourceId = Field(description="Tenant whose events drive the connector.")
    type: Literal["crm", "helpdesk"] = Field(
        description="`crm`: customer lookup and outcome write-back; `helpdesk`: tickets from the AI service."
    )
    endpoint_region: RegionName = Field(
        description="Region the business system runs in; personal data goes there only if residency allows."
    )
    base_url: str = Field(min_length=1, max_length=2000, description="Base URL of the system's REST API.")
    token: str = Field(
        default="",
        description="Bearer token for the system's API (sent as `Authorization: Bearer`). Never logged.",
    )

    @field_validator("token")
    @classmethod
    def _token_length(cls, value: str) -> str:
        # Checked here, not with max_length, so that an error never quotes the token.
        if len(value) > 4000:
            raise ValueError(f"must be at most 4000 characters, got {len(value)}")
        return value

    requests: list[ConnectorRequest] = Field(
        default_factory=list, description="Requests made on events; field mappings are configuration."
    )
    lookup: CustomerLookup | None = Field(
        default=None, description="CRM only: look the customer up when a contact is created."
    )
    flow_integrations: list[FlowIntegration] = Field(
        default_factory=list,
        description="Integrations that journeys' `integration` steps call by name, answered by this system.",
    )
    enabled: bool = Field(default=True, description="False pauses the connector; events wait on the stream.")

    @model_validator(mode="after")
    def _lookup_for_crm_only(self) -> IntegrationConnectorSpec:
        if self.lookup is not None and self.type != "crm":
            raise ValueError("lookup is only for connectors of type crm")
        if not self.requests and self.lookup is None and not self.flow_integrations:
            raise ValueError("a connector needs at least one of requests and lookup (or flowIntegrations)")
        names = [f.name for f in self.flow_integrations]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"flowIntegrations: name(s) {repeated} given more than once")
        return self


class IntegrationConnector(Model):
    """A business system (CRM, helpdesk) driven by events through configured REST requests."""

    api_version: Literal["contactcenter.dev/v1alpha1"] = Field(
        alias="apiVersion", description="Versioned schema of this document."
    )
    kind: Literal["IntegrationConnector"] = Field(description="Always `IntegrationConnector`.")
    metadata: ObjectMeta = Field(description="Name (unique across tenants) and labels.")
    spec: IntegrationConnectorSpec = Field(description="System, requests and field mappings.")
