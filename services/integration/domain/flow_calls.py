"""A journey's `integration` step answered by a connector: the GET it makes and the fields it returns.

A connector's `flowIntegrations` entry names the flow's logical integration (`crm-account`), the
path (placeholders from the contact and from CEL `params` over what the journey hands over) and
the fields the journey gets (CEL over the system's JSON `response`). Everything here is pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import cel
import orjson

from ccmesh.configplane.models import IntegrationConnector
from integration.domain.connectors import MappingError, evaluate_mapping

#: Longest text one field carries back to the journey.
MAX_FIELD_CHARS = 2000


class FlowCallError(ValueError):
    """A flow integration cannot be called for this contact; the message names what is missing."""


@dataclass(frozen=True)
class ContactFacts:
    """What the integration service knows of the contact (from its opening event)."""

    contact_id: str
    identifier: str = ""
    brand: str = ""


@dataclass(frozen=True)
class FlowCall:
    """One connector's answer to one flow integration, compiled."""

    connector: str
    tenant: str
    endpoint_region: str
    base_url: str
    token: str = field(repr=False)
    integration: str
    path: str
    params: dict[str, cel.Program] = field(compare=False, hash=False)
    fields: dict[str, cel.Program] = field(compare=False, hash=False)

    @property
    def needs_identifier(self) -> bool:
        return "{identifier}" in self.path


def flow_call_of(document: IntegrationConnector, integration: str, *, local_mode: bool) -> FlowCall | None:
    """The connector's entry answering `integration`, compiled; None when it has none (or is off).

    The document validated when it was applied (its CEL compiles), so compiling again here
    cannot fail on a stored document; a scheme the service does not allow makes it unusable."""
    spec = document.spec
    if not spec.enabled:
        return None
    entry = next((f for f in spec.flow_integrations if f.name == integration), None)
    if entry is None:
        return None
    scheme = urlsplit(spec.base_url).scheme
    if scheme != "https" and not (local_mode and scheme == "http"):
        raise FlowCallError(
            f"connector {document.metadata.name!r}: spec.baseUrl must be https (http only in local mode)"
        )
    return FlowCall(
        connector=document.metadata.name,
        tenant=spec.tenant,
        endpoint_region=spec.endpoint_region,
        base_url=spec.base_url.rstrip("/"),
        token=spec.token,
        integration=entry.name,
        path=entry.path,
        params={name: cel.compile(source) for name, source in entry.params.items()},
        fields={name: cel.compile(source) for name, source in entry.fields.items()},
    )


def request_path(call: FlowCall, contact: ContactFacts, tenant: str, inputs: Mapping[str, str]) -> str:
    """The GET path for this contact; FlowCallError when it needs an identifier the contact lacks,
    MappingError when a param's expression fails on these inputs."""
    if call.needs_identifier and not contact.identifier:
        raise FlowCallError(f"contact {contact.contact_id!r} has no customer identifier yet")
    variables = {
        "inputs": dict(inputs),
        "contact": {"id": contact.contact_id, "identifier": contact.identifier, "brand": contact.brand},
    }
    values = {"identifier": contact.identifier, "contactId": contact.contact_id, "tenantId": tenant}
    values.update({name: _text(value) for name, value in evaluate_mapping(call.params, variables).items()})
    path = call.path
    for name, value in values.items():
        path = path.replace("{" + name + "}", quote(value, safe=""))
    return path


def answer_fields(call: FlowCall, response: Any) -> dict[str, str]:
    """The journey's fields from the system's JSON answer (its top-level fields when none are mapped)."""
    if not call.fields:
        if not isinstance(response, dict):
            raise MappingError("the answer is not a JSON object and no fields are mapped")
        return {str(name): _text(value) for name, value in response.items()}
    mapped = evaluate_mapping(call.fields, {"response": response})
    return {name: _text(value) for name, value in mapped.items()}


def _text(value: Any) -> str:
    """A field as the journey stores it: strings as they are, other JSON values as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value[:MAX_FIELD_CHARS]
    return orjson.dumps(value).decode()[:MAX_FIELD_CHARS]
