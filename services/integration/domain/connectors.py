"""Connectors: REST requests built from events by configured field mappings (CEL), no code per system.

A CRM connector looks the customer up when a contact is created and writes the outcome back when
it closes; a helpdesk connector turns the AI service's ticket into a ticket (PUT to a path keyed
by the contact creates or updates it). Both are `IntegrationConnector` documents.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import cel

from ccmesh.configplane.models import IntegrationConnectorSpec
from integration.domain.subscriptions import compile_filter

PLACEHOLDERS = ("contactId", "tenantId", "eventId")


class MappingError(ValueError):
    """A field mapping failed on this event (e.g. a field the event lacks)."""


@dataclass(frozen=True)
class CompiledRequest:
    on: str
    method: str
    path: str
    sources: tuple[tuple[str, str], ...]
    programs: dict[str, cel.Program] = field(compare=False, hash=False)


@dataclass(frozen=True)
class CompiledLookup:
    path: str
    sources: tuple[tuple[str, str], ...]
    programs: dict[str, cel.Program] = field(compare=False, hash=False)


@dataclass(frozen=True)
class CompiledConnector:
    base_url: str
    token: str
    requests: tuple[CompiledRequest, ...]
    lookup: CompiledLookup | None

    @property
    def event_types(self) -> frozenset[str]:
        kinds = {r.on for r in self.requests}
        return frozenset(kinds | ({"contact_created"} if self.lookup is not None else set()))


def _compile_all(mapping: dict[str, str], where: str, problems: list[str]) -> dict[str, cel.Program]:
    programs: dict[str, cel.Program] = {}
    for name, expression in mapping.items():
        try:
            compiled = compile_filter(expression)
        except ValueError as error:
            problems.append(f"{where}.{name}: CEL expression does not compile: {error}")
            continue
        if compiled.program is None:
            problems.append(f"{where}.{name}: an expression is required")
            continue
        programs[name] = compiled.program
    return programs


def _check_path(path: str, where: str, allowed: tuple[str, ...], problems: list[str]) -> None:
    unknown = [part.split("}", 1)[0] for part in path.split("{")[1:] if part.split("}", 1)[0] not in allowed]
    if unknown:
        problems.append(f"{where}: unknown placeholder(s) {unknown}; known: {list(allowed)}")


def compile_connector(
    spec: IntegrationConnectorSpec, *, local_mode: bool
) -> tuple[CompiledConnector | None, list[str]]:
    """The compiled connector and no problems, or None and every problem (naming the field)."""
    problems: list[str] = []
    scheme = urlsplit(spec.base_url).scheme
    allowed = ("https", "http") if local_mode else ("https",)
    if scheme not in allowed:
        problems.append(f"spec.baseUrl: scheme must be {' or '.join(allowed)}, got {scheme or 'none'!r}")
    requests = []
    for index, request in enumerate(spec.requests):
        where = f"spec.requests[{index}]"
        _check_path(request.path, f"{where}.path", PLACEHOLDERS, problems)
        programs = _compile_all(request.fields, f"{where}.fields", problems)
        requests.append(
            CompiledRequest(
                request.event_type,
                request.method,
                request.path,
                tuple(sorted(request.fields.items())),
                programs,
            )
        )
    lookup = None
    if spec.lookup is not None:
        _check_path(spec.lookup.path, "spec.lookup.path", ("identifier",), problems)
        programs = _compile_all(spec.lookup.attributes, "spec.lookup.attributes", problems)
        lookup = CompiledLookup(spec.lookup.path, tuple(sorted(spec.lookup.attributes.items())), programs)
    if problems:
        return None, problems
    return CompiledConnector(spec.base_url.rstrip("/"), spec.token, tuple(requests), lookup), []


def evaluate_mapping(programs: Mapping[str, cel.Program], variables: dict[str, Any]) -> dict[str, Any]:
    """Each mapped field's value over `variables`; MappingError naming the first that fails."""
    values: dict[str, Any] = {}
    for name, program in programs.items():
        try:
            values[name] = program.execute(variables)
        except (KeyError, ValueError, RuntimeError, TypeError) as error:
            raise MappingError(f"field {name!r}: {' '.join(str(error).split())[:200]}") from None
    return values


def render_request(request: CompiledRequest, body: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """(method, path, JSON body) for `body` (the event's webhook body); MappingError when a field fails."""
    values = {
        "contactId": body.get("contactId", ""),
        "tenantId": body.get("tenantId", ""),
        "eventId": body["id"],
    }
    path = request.path
    for name, value in values.items():
        path = path.replace("{" + name + "}", quote(str(value), safe=""))
    return request.method, path, evaluate_mapping(request.programs, {"event": body})


def identifier_of(body: dict[str, Any]) -> str | None:
    """The customer's identifier in a contact_created body, if any."""
    sender = body.get("data", {}).get("from") or {}
    value = sender.get("value")
    return str(value) if value else None


def lookup_path(lookup: CompiledLookup, identifier: str) -> str:
    return lookup.path.replace("{identifier}", quote(identifier, safe=""))


def customer_attributes(lookup: CompiledLookup, customer: Any) -> dict[str, str]:
    values = evaluate_mapping(lookup.programs, {"customer": customer})
    return {name: "" if value is None else str(value) for name, value in values.items()}
