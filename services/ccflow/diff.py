"""What changed between two flows, node by node (added, removed, changed fields), in stable order."""

from __future__ import annotations

from typing import Any

import yaml

from ccflow.model import Flow


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        flat: dict[str, Any] = {}
        for key, item in value.items():
            flat.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return flat or {prefix: {}}
    return {prefix: value}


def _short(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=True, width=10_000).strip().removesuffix("...").strip()


def diff_flows(old: Flow, new: Flow) -> list[str]:
    """One line per change: `+ node id (kind)`, `- node id (kind)`, `~ node id: field: old -> new`."""
    lines: list[str] = []
    old_spec = old.spec.model_dump(by_alias=True, exclude={"nodes"}, mode="json")
    new_spec = new.spec.model_dump(by_alias=True, exclude={"nodes"}, mode="json")
    flat_old, flat_new = _flatten(old_spec), _flatten(new_spec)
    for key in sorted(set(flat_old) | set(flat_new)):
        if flat_old.get(key) != flat_new.get(key):
            lines.append(f"~ spec.{key}: {_short(flat_old.get(key))} -> {_short(flat_new.get(key))}")
    old_nodes = {n.id: n.model_dump(by_alias=True, mode="json") for n in old.spec.nodes}
    new_nodes = {n.id: n.model_dump(by_alias=True, mode="json") for n in new.spec.nodes}
    order = [n.id for n in old.spec.nodes] + [n.id for n in new.spec.nodes if n.id not in old_nodes]
    for node_id in order:
        before, after = old_nodes.get(node_id), new_nodes.get(node_id)
        if before is None and after is not None:
            shown = next(n for n in new.spec.nodes if n.id == node_id).model_dump(
                by_alias=True, mode="json", exclude_defaults=True, exclude={"id", "kind"}
            )
            lines.append(f"+ node {node_id} ({after['kind']}): {_short(shown)}")
        elif after is None and before is not None:
            lines.append(f"- node {node_id} ({before['kind']})")
        elif before != after and before is not None and after is not None:
            flat_before, flat_after = _flatten(before), _flatten(after)
            for key in sorted(set(flat_before) | set(flat_after)):
                if flat_before.get(key) != flat_after.get(key):
                    old_value, new_value = _short(flat_before.get(key)), _short(flat_after.get(key))
                    lines.append(f"~ node {node_id}: {key}: {old_value} -> {new_value}")
    return lines


def to_yaml(flow: Flow) -> str:
    """The flow as YAML, in the order of its fields (what `ccctl flow render` prints)."""
    data = flow.model_dump(by_alias=True, mode="json", exclude_defaults=False)
    return yaml.safe_dump(data, sort_keys=False, width=110)
