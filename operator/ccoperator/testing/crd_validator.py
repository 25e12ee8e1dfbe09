"""Validate a custom resource the way the API server would, from the CRD alone.

kubernetes-validate knows no custom resources, so tests check ContactCenters here: apply the schema's
defaults, validate with jsonschema (objects with `properties` are closed, as strict field validation
makes them), enforce `map` list keys, then evaluate every `x-kubernetes-validations` CEL rule at its node.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import cel
import jsonschema

Schema = dict[str, Any]


def apply_defaults(value: Any, schema: Schema) -> Any:
    if isinstance(value, dict) and schema.get("type") == "object":
        for name, prop in schema.get("properties", {}).items():
            if name not in value and "default" in prop:
                value[name] = copy.deepcopy(prop["default"])
            if name in value:
                value[name] = apply_defaults(value[name], prop)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for key in value:
                value[key] = apply_defaults(value[key], extra)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [apply_defaults(item, schema["items"]) for item in value]
    return value


def closed(schema: Any) -> Any:
    """Objects that list their properties reject others (the API server's strict field validation)."""
    if isinstance(schema, list):
        return [closed(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    result = {k: closed(v) for k, v in schema.items() if not k.startswith("x-kubernetes-")}
    open_object = "additionalProperties" in schema or schema.get("x-kubernetes-preserve-unknown-fields")
    if "properties" in schema and not open_object:
        result["additionalProperties"] = False
    if schema.get("nullable"):
        result = {"anyOf": [{"type": "null"}, {k: v for k, v in result.items() if k != "nullable"}]}
    return result


def _walk(value: Any, schema: Schema, path: str) -> Iterator[tuple[Any, Schema, str]]:
    yield value, schema, path
    if isinstance(value, dict):
        for name, prop in schema.get("properties", {}).items():
            if name in value and value[name] is not None:
                yield from _walk(value[name], prop, f"{path}.{name}")
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for key, item in value.items():
                yield from _walk(item, extra, f"{path}.{key}")
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            yield from _walk(item, schema["items"], f"{path}[{index}]")


def validate(resource: dict[str, Any], crd: dict[str, Any]) -> list[str]:
    """Errors the API server would report for `resource`, or [] when it is accepted."""
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    document = apply_defaults(copy.deepcopy(resource), schema)
    errors = [
        f"{'.'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message}"
        for error in jsonschema.Draft7Validator(closed(schema)).iter_errors(document)
    ]
    if errors:
        return errors
    for value, node, path in _walk(document, schema, ""):
        if node.get("x-kubernetes-list-type") == "map":
            keys = node["x-kubernetes-list-map-keys"]
            seen = [tuple(item.get(k) for k in keys) for item in value]
            if len(seen) != len(set(seen)):
                errors.append(f"{path}: duplicate entries for map keys {keys}")
        for entry in node.get("x-kubernetes-validations", []):
            if not cel.evaluate(entry["rule"], {"self": value}):
                errors.append(f"{path}{entry.get('fieldPath', '')}: {entry['message']}")
    return errors
