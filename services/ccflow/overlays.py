"""The effective flow for a context: the base flow with every matching overlay applied.

Overlays apply from the least to the most specific (fewest `match` keys first), then by
name, so a brand+region overlay wins over a region-only one. `replace` swaps a node of the
same id; `insert` chains nodes in after a `point` node, and `next: $continue` in an inserted
node rejoins the flow where the point used to lead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ccflow.errors import FlowError, Problem
from ccflow.expressions import ExpressionError, check
from ccflow.loader import Bundle
from ccflow.model import (
    CONTINUE,
    CatalogSpec,
    ConditionNode,
    Flow,
    FlowOverlay,
    FlowPolicy,
    Node,
    PointNode,
    Selector,
)
from ccflow.validate import channel_name_problems, check_node, successors, validate_flow


def matches(selector: Selector, context: Mapping[str, str | None]) -> bool:
    return all(context.get(key) == wanted for key, wanted in selector.model_dump(exclude_none=True).items())


def _specificity(item: tuple[str, FlowOverlay]) -> tuple[int, str]:
    return len(item[1].spec.match.model_dump(exclude_none=True)), item[1].metadata.name


def _rejoin(node: Node, target: str) -> Node:
    changes: dict[str, Any] = {}
    for field in ("next", "default", "on_failure", "join"):
        if getattr(node, field, None) == CONTINUE:
            changes[field] = target
    if isinstance(node, ConditionNode):
        branches = [b.model_copy(update={"next": target}) if b.next == CONTINUE else b for b in node.branches]
        changes["branches"] = branches
    return node.model_copy(update=changes) if changes else node


def apply_overlay(flow: Flow, overlay: FlowOverlay, file: str) -> Flow:
    nodes: dict[str, Node] = {node.id: node for node in flow.spec.nodes}
    order = [node.id for node in flow.spec.nodes]
    problems: list[Problem] = []
    for replacement in overlay.spec.replace:
        if replacement.id not in nodes:
            problems.append(Problem(file, replacement.id, "replace: the base flow has no node with this id"))
            continue
        nodes[replacement.id] = replacement
    for insert in overlay.spec.insert:
        point = nodes.get(insert.at)
        if not isinstance(point, PointNode):
            what = "does not exist" if point is None else f"is a {point.kind} node, not a point"
            problems.append(Problem(file, insert.at, f"insert: the insertion point {what}"))
            continue
        for node in insert.nodes:
            if node.id in nodes:
                problems.append(Problem(file, node.id, "insert: a node with this id already exists"))
                continue
            nodes[node.id] = _rejoin(node, point.next)
            order.append(node.id)
        nodes[point.id] = point.model_copy(update={"next": insert.nodes[0].id})
    if problems:
        raise FlowError(problems)
    spec_changes: dict[str, Any] = {"nodes": [nodes[node_id] for node_id in order]}
    if overlay.spec.time_zone:
        spec_changes["time_zone"] = overlay.spec.time_zone
    if overlay.spec.business_hours:
        spec_changes["business_hours"] = overlay.spec.business_hours
    return flow.model_copy(update={"spec": flow.spec.model_copy(update=spec_changes)})


def render(bundle: Bundle, flow_name: str, context: Mapping[str, str | None]) -> tuple[Flow, list[str]]:
    """(effective flow, names of the overlays applied) for a context (region, brand, channel, language)."""
    flow = bundle.flow(flow_name)
    applied = []
    for file, overlay in sorted(bundle.overlays_of(flow_name), key=lambda item: _specificity(item)):
        if matches(overlay.spec.match, context):
            flow = apply_overlay(flow, overlay, file)
            applied.append(overlay.metadata.name)
    return flow, applied


def validate_bundle(bundle: Bundle) -> None:
    """Check every base flow, every flow with each of its overlays, every policy; raise on any problem."""
    problems: list[Problem] = []
    catalog = bundle.catalog.spec if bundle.catalog else None
    if bundle.catalog is None:
        problems.append(
            Problem("", "", "no FlowCatalog: the logical names of queues, prompts... are unknown")
        )
    if not bundle.flows:
        problems.append(Problem("", "", "no Flow document"))
    known_overlay_flows = set(bundle.flows)
    for sourced in bundle.overlays:
        overlay = sourced.document
        assert isinstance(overlay, FlowOverlay)
        if overlay.spec.flow not in known_overlay_flows:
            problems.append(Problem(sourced.file, "", f"overlay of unknown flow {overlay.spec.flow!r}"))
    for name, sourced in bundle.flows.items():
        base = bundle.flow(name)
        try:
            validate_flow(base, sourced.file, catalog)
        except FlowError as error:
            problems.extend(error.problems)
            continue
        for file, overlay in bundle.overlays_of(name):
            try:
                validate_flow(apply_overlay(base, overlay, file), file, catalog)
            except FlowError as error:
                problems.extend(error.problems)
    for sourced in bundle.policies:
        assert isinstance(sourced.document, FlowPolicy)
        problems.extend(policy_problems(sourced.document, sourced.file, catalog))
    if problems:
        raise FlowError(problems)


def policy_problems(policy: FlowPolicy, file: str, catalog: CatalogSpec | None) -> list[Problem]:
    """What is wrong with a run-time policy: its nodes (message, set, priority only) and its `when`."""
    problems = []
    for node in policy.spec.nodes:
        if node.kind not in ("message", "set", "priority"):
            problems.append(
                Problem(file, node.id, f"a policy may insert message, set or priority nodes, not {node.kind}")
            )
        problems.extend(check_node(node, file, catalog))
    try:
        check(policy.spec.when, bool)
    except ExpressionError as error:
        problems.append(Problem(file, "", f"when: {error}"))
    else:
        problems.extend(Problem(file, "", f"when: {p}") for p in channel_name_problems(policy.spec.when))
    return problems


__all__ = ["apply_overlay", "matches", "policy_problems", "render", "successors", "validate_bundle"]
