"""The ContactCenter CustomResourceDefinition, generated from the config plane's pydantic model.

One source of truth: the same `ContactCenterSpec` validates `ccctl apply` and becomes this OpenAPI v3
schema. Pydantic's JSON schema is not a Kubernetes *structural* schema, so it is rewritten here:
`$ref`s inlined, `anyOf [X, null]` turned into `nullable`, `const` into `enum`, titles and
`additionalProperties: false` dropped (the API server prunes unknown fields instead), and defaults
added for fields pydantic fills from a factory. Cross-field checks the model makes in Python become
CEL `x-kubernetes-validations` rules, so `kubectl apply` rejects them before the operator sees them.
`tools/gen_crd.py` writes the result into the CRD chart; a test keeps the two equal.
"""

from __future__ import annotations

import copy
import types
import typing
from typing import Any, Final

from pydantic import BaseModel

from ccmesh.configplane.models import ContactCenter, ContactCenterSpec
from ccoperator import labels

Schema = dict[str, Any]

#: Lists that CEL rules iterate get an upper bound: the API server rejects rules whose estimated
#: cost is unbounded. Generous limits, far above any real deployment.
LIST_LIMITS: Final = {
    "knownRegions": 64,
    "personalDataRegions": 64,
    "pseudonymousRegions": 64,
    "nodeRegions": 16,
    "tenants": 256,
    "brands": 256,
}
#: Lists of objects keyed by id: the API server itself rejects a repeated id (a `map` list).
MAP_LIST_KEYS: Final = {"tenants": "id", "brands": "id"}


def rule(expression: str, message: str, field_path: str = "") -> Schema:
    entry: Schema = {"rule": expression, "message": message}
    if field_path:
        entry["fieldPath"] = field_path
    return entry


#: The Python cross-checks of `ContactCenterSpec` and `Autoscaling`, as CEL, keyed by the schema node
#: (a dotted path of property names under `spec`) they are attached to.
CEL_RULES: Final[dict[str, list[Schema]]] = {
    "": [
        rule(
            "size(self.knownRegions) == 0 || self.region in self.knownRegions",
            "region must be listed in knownRegions",
            ".region",
        ),
        rule(
            "self.tenants.all(t, t.residency.personalDataRegions.all(r,"
            " r == self.region || r in self.knownRegions))",
            "residency.personalDataRegions may name only this region or one of knownRegions",
            ".tenants",
        ),
        rule(
            "self.tenants.all(t, t.residency.pseudonymousRegions.all(r,"
            " r == self.region || r in self.knownRegions))",
            "residency.pseudonymousRegions may name only this region or one of knownRegions",
            ".tenants",
        ),
    ],
    "services.*.autoscaling": [
        rule(
            "self.minReplicas <= self.maxReplicas", "minReplicas must not exceed maxReplicas", ".minReplicas"
        ),
    ],
}

STATUS_DESCRIPTION: Final = "Observed state, written by the operator."


def _model_classes(root: type[BaseModel]) -> dict[str, type[BaseModel]]:
    """Every model reachable from `root`, by class name (pydantic names its `$defs` so)."""
    found: dict[str, type[BaseModel]] = {}
    pending: list[Any] = [root]
    while pending:
        item = pending.pop()
        if isinstance(item, type) and issubclass(item, BaseModel):
            if item.__name__ in found:
                continue
            found[item.__name__] = item
            pending.extend(f.annotation for f in item.model_fields.values())
        elif isinstance(item, types.UnionType) or typing.get_origin(item) is not None:
            pending.extend(typing.get_args(item))
    return found


def _factory_defaults(model: type[BaseModel]) -> dict[str, Any]:
    """Defaults of fields filled by a factory, as the API server should apply them."""
    defaults: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        if field.default_factory is None:
            continue
        value = field.get_default(call_default_factory=True, validated_data={})
        alias = field.alias or name
        # An empty object lets the API server apply the nested fields' own defaults.
        defaults[alias] = {} if isinstance(value, BaseModel) else value
    return defaults


def _structural(node: Any, defs: dict[str, Schema]) -> Any:
    if isinstance(node, list):
        return [_structural(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = copy.deepcopy(defs[node["$ref"].rsplit("/", 1)[1]])
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        return _structural({**target, **siblings}, defs)
    variants = node.get("anyOf")
    if variants is not None:
        non_null = [v for v in variants if v.get("type") != "null"]
        if len(non_null) == 1:
            merged = {**non_null[0], **{k: v for k, v in node.items() if k != "anyOf"}}
            if len(non_null) < len(variants):
                merged["nullable"] = True
            if merged.get("default", 0) is None:
                del merged["default"]
            return _structural(merged, defs)
    result: Schema = {}
    for key, value in node.items():
        if key in {"title", "$defs"}:
            continue
        if key == "additionalProperties" and value is False:
            continue
        if key == "const":
            result["enum"] = [value]
            continue
        result[key] = _structural(value, defs)
    return result


def _annotate_lists(node: Any) -> None:
    """Add list bounds and map-list keys by property name, recursively."""
    if isinstance(node, dict):
        for name, prop in node.get("properties", {}).items():
            if prop.get("type") == "array":
                if name in LIST_LIMITS:
                    prop["maxItems"] = LIST_LIMITS[name]
                if name in MAP_LIST_KEYS:
                    prop["x-kubernetes-list-type"] = "map"
                    prop["x-kubernetes-list-map-keys"] = [MAP_LIST_KEYS[name]]
        for value in node.values():
            _annotate_lists(value)
    elif isinstance(node, list):
        for item in node:
            _annotate_lists(item)


def _nodes(schema: Schema, path: str) -> list[Schema]:
    """Schema nodes at a dotted property path; `*` means every property."""
    nodes = [schema]
    for part in [p for p in path.split(".") if p]:
        nodes = [child for n in nodes for key, child in n.get("properties", {}).items() if part in {"*", key}]
    return nodes


def spec_schema() -> Schema:
    raw = ContactCenterSpec.model_json_schema(by_alias=True, mode="validation")
    defs: dict[str, Schema] = raw.get("$defs", {})
    classes = _model_classes(ContactCenterSpec)
    for class_name, model in classes.items():
        target = raw if model is ContactCenterSpec else defs.get(class_name)
        if target is None:
            continue
        for alias, default in _factory_defaults(model).items():
            target["properties"][alias].setdefault("default", default)
    schema: Schema = _structural(raw, defs)
    schema["description"] = "Desired state of the region: its tenants, residency policy, scaling and NATS."
    _annotate_lists(schema)
    for path, rules in CEL_RULES.items():
        for node in _nodes(schema, path):
            node["x-kubernetes-validations"] = copy.deepcopy(rules)
    return schema


def _condition_schema() -> Schema:
    return {
        "type": "object",
        "description": "One condition in the Kubernetes style.",
        "required": ["type", "status"],
        "properties": {
            "type": {"type": "string", "description": "`Ready`, `Progressing` or `Degraded`."},
            "status": {
                "type": "string",
                "enum": ["True", "False", "Unknown"],
                "description": "Whether it holds.",
            },
            "reason": {"type": "string", "description": "One CamelCase word a program can match."},
            "message": {"type": "string", "description": "Human-readable detail; names the field at fault."},
            "observedGeneration": {"type": "integer", "description": "The generation this was computed for."},
            "lastTransitionTime": {
                "type": "string",
                "format": "date-time",
                "description": "When the status last changed.",
            },
        },
    }


def status_schema() -> Schema:
    replicas = {
        "type": "object",
        "description": "Replicas of one service's Deployment.",
        "properties": {
            "ready": {"type": "integer", "description": "Pods passing their readiness probe."},
            "desired": {"type": "integer", "description": "Pods the Deployment (or its autoscaler) wants."},
        },
    }
    return {
        "type": "object",
        "description": STATUS_DESCRIPTION,
        # kopf keeps its own bookkeeping under status.kopf; let it through rather than prune it.
        "x-kubernetes-preserve-unknown-fields": True,
        "properties": {
            "observedGeneration": {"type": "integer", "description": "The spec generation last reconciled."},
            "conditions": {
                "type": "array",
                "description": (
                    "Ready, Progressing and Degraded, with reasons; NatsHealthy: the region's NATS is "
                    "reachable, has JetStream, and holds every stream and bucket on servers tagged "
                    "`region:<name>` at the configured replicas (the reason says what is not)."
                ),
                "items": _condition_schema(),
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["type"],
            },
            "servicesReady": {
                "type": "string",
                "description": "Services with all replicas ready, as `ready/total`.",
            },
            "services": {
                "type": "object",
                "description": "Ready and desired replicas per service.",
                "additionalProperties": replicas,
            },
            "nats": {
                "type": "object",
                "description": "Where the region's streams and KV buckets were found.",
                "properties": {
                    "placementTag": {"type": "string", "description": "The placement tag they must carry."},
                    "streams": {
                        "type": "array",
                        "description": "Streams with the servers holding them.",
                        "items": {
                            "type": "object",
                            "description": "One stream or bucket and its placement.",
                            "properties": {
                                "name": {"type": "string", "description": "Stream name."},
                                "cluster": {"type": "string", "description": "NATS cluster holding it."},
                                "servers": {
                                    "type": "array",
                                    "description": "Servers holding a replica.",
                                    "items": {"type": "string"},
                                },
                                "tags": {
                                    "type": "array",
                                    "description": "Placement tags (NATS picks servers by them).",
                                    "items": {"type": "string"},
                                },
                                "replicas": {
                                    "type": "integer",
                                    "description": "Replicas the stream is configured with.",
                                },
                                "maxAgeSeconds": {
                                    "type": "integer",
                                    "description": "Maximum age in effect on the server (0: none).",
                                },
                                "maxBytes": {
                                    "type": "integer",
                                    "description": "Size cap in effect on the server (-1: none).",
                                },
                                "bytes": {"type": "integer", "description": "Bytes it holds now."},
                            },
                        },
                    },
                },
            },
            "repairs": {
                "type": "object",
                "description": "Objects the operator restored after they were deleted or edited by hand.",
                "properties": {
                    "count": {"type": "integer", "description": "Repairs since the resource was created."},
                    "last": {
                        "type": "array",
                        "description": "Objects of the last repair.",
                        "items": {"type": "string"},
                    },
                    "time": {"type": "string", "format": "date-time", "description": "When it happened."},
                },
            },
            "pruned": {
                "type": "object",
                "description": "Objects the operator deleted because the spec no longer asks for them.",
                "properties": {
                    "count": {
                        "type": "integer",
                        "description": "Objects pruned since the resource was created.",
                    },
                    "last": {
                        "type": "array",
                        "description": "Objects of the last prune, as `Kind/name`.",
                        "items": {"type": "string"},
                    },
                    "time": {"type": "string", "format": "date-time", "description": "When it happened."},
                },
            },
            "notes": {
                "type": "array",
                "description": "Decisions worth knowing, e.g. KEDA requested but absent.",
                "items": {"type": "string"},
            },
        },
    }


def custom_resource_definition() -> Schema:
    root: Schema = {
        "type": "object",
        "description": (ContactCenter.__doc__ or "").strip(),
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string", "description": "Versioned schema of this object."},
            "kind": {"type": "string", "description": "Always `ContactCenter`."},
            "metadata": {"type": "object", "description": "Standard object metadata."},
            "spec": spec_schema(),
            "status": status_schema(),
        },
        "x-kubernetes-validations": [
            rule(
                f"self.metadata.name.size() <= {labels.MAX_NAME_LENGTH}",
                f"metadata.name must be at most {labels.MAX_NAME_LENGTH} characters "
                "(it prefixes the names of the region's Deployments and Services)",
            )
        ],
    }
    printer_columns = [
        {"name": "Region", "type": "string", "jsonPath": ".spec.region", "description": "Region served."},
        {
            "name": "Ready",
            "type": "string",
            "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
            "description": "Every service has its replicas ready.",
        },
        {
            "name": "Services",
            "type": "string",
            "jsonPath": ".status.servicesReady",
            "description": "Services ready / total.",
        },
        {
            "name": "Mesh",
            "type": "string",
            "jsonPath": '.status.conditions[?(@.type=="NatsHealthy")].reason',
            "description": "The region's NATS: Healthy, or why not (NatsHealthy condition).",
        },
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ]
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{labels.PLURAL}.{labels.GROUP}"},
        "spec": {
            "group": labels.GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": labels.KIND,
                "plural": labels.PLURAL,
                "singular": "contactcenter",
                "listKind": "ContactCenterList",
                "shortNames": ["cc"],
                "categories": ["contactcenter"],
            },
            "versions": [
                {
                    "name": labels.VERSION,
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": root},
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": printer_columns,
                }
            ],
        },
    }
