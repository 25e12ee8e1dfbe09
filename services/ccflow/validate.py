"""Checks an effective flow before it may run: references, names, CEL, reachability of an exit.

Every problem names the file, the node and what is wrong; all are reported at once.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Iterator

from ccflow.errors import FlowError, Problem
from ccflow.expressions import ExpressionError, check
from ccflow.model import (
    CONTINUE,
    TERMINAL_KINDS,
    AiNode,
    CallbackNode,
    CatalogSpec,
    CollectNode,
    ConditionNode,
    Flow,
    IntegrationNode,
    MessageNode,
    Node,
    ParallelNode,
    PriorityNode,
    QueueNode,
    SetAttributesNode,
    TransferFlowNode,
)
from ccmesh import channels


def successors(node: Node) -> list[str]:
    """Every node id this node may continue at."""
    if isinstance(node, ConditionNode):
        return [b.next for b in node.branches] + [node.default]
    if isinstance(node, CollectNode | AiNode | IntegrationNode):
        return [node.next, node.on_failure]
    if isinstance(node, ParallelNode):
        return [*node.branches, node.join]
    if isinstance(node, QueueNode | TransferFlowNode) or node.kind == "end":
        return []
    return [node.next]


def expressions_of(node: Node) -> Iterator[tuple[str, type | tuple[type, ...], str]]:
    """(CEL source, expected result type, where) for every expression of the node."""
    if isinstance(node, ConditionNode):
        for index, branch in enumerate(node.branches):
            yield branch.when, bool, f"branches[{index}].when"
    elif isinstance(node, SetAttributesNode):
        for key, source in node.compute.items():
            yield source, (bool, int, float, str, dict, list), f"compute.{key}"
    elif isinstance(node, CollectNode) and node.valid:
        yield node.valid, bool, "valid"
    elif isinstance(node, PriorityNode) and node.expression:
        yield node.expression, int, "expression"


def catalog_references(node: Node) -> Iterator[tuple[str, str]]:
    """(catalog section, logical name) for every name the node uses."""
    if isinstance(node, MessageNode | CollectNode):
        yield "prompts", node.prompt
    if isinstance(node, AiNode):
        yield "aiComponents", node.component
    if isinstance(node, IntegrationNode):
        yield "integrations", node.integration
    if isinstance(node, QueueNode | CallbackNode):
        yield "queues", node.queue
    if isinstance(node, TransferFlowNode):
        yield "flows", node.flow


#: `channel == "x"`, `"x" != channel`, `channel in ["x", ...]` (not `attributes.channel`).
_CHANNEL_COMPARED = re.compile(
    r"""(?<![\w.])channel\s*(?:==|!=)\s*(["'])(?P<right>[^"']*)\1"""
    r"""|(["'])(?P<left>[^"']*)\3\s*(?:==|!=)\s*channel\b"""
    r"""|(?<![\w.])channel\s+in\s*\[(?P<listed>[^\]]*)\]"""
)
_LITERAL = re.compile(r"""(["'])([^"']*)\1""")


def channel_name_problems(source: str) -> list[str]:
    """Names a condition compares `channel` with that the journey's channel never is.

    A journey's channel is always one of `ccmesh.channels.NAMES`; a comparison with an earlier
    spelling (`chat`) or a typo would silently never match, so it is refused with the right name.
    """
    problems = []
    for match in _CHANNEL_COMPARED.finditer(source):
        if match["listed"] is not None:
            names = [literal[1] for literal in _LITERAL.findall(match["listed"])]
        else:
            names = [match["right"] if match["right"] is not None else match["left"]]
        for name in names:
            if name in channels.NAMES:
                continue
            try:
                hint = f"the journey's channel is {channels.parse(name).value!r}"
            except channels.UnknownChannelError:
                hint = f"one of {', '.join(channels.NAMES)}"
            problems.append(f"compares channel with {name!r}, which it never is: {hint}")
    return problems


def check_node(node: Node, file: str, catalog: CatalogSpec | None) -> list[Problem]:
    problems = []
    for source, expected, where in expressions_of(node):
        try:
            check(source, expected)
        except ExpressionError as error:
            problems.append(Problem(file, node.id, f"{where}: {error}"))
            continue
        problems.extend(Problem(file, node.id, f"{where}: {p}") for p in channel_name_problems(source))
    if isinstance(node, PriorityNode) and [node.priority, node.delta, node.expression].count(None) != 2:
        problems.append(Problem(file, node.id, "give exactly one of priority, delta or expression"))
    if catalog is not None:
        sections = {
            "prompts": catalog.prompts,
            "aiComponents": catalog.ai_components,
            "integrations": catalog.integrations,
            "queues": catalog.queues,
            "flows": catalog.flows,
        }
        for section, name in catalog_references(node):
            if name not in sections[section]:
                problems.append(
                    Problem(
                        file,
                        node.id,
                        f"unknown {_singular(section)} {name!r} (not in the catalog's {section})",
                    )
                )
    return problems


def _singular(section: str) -> str:
    return {"prompts": "prompt", "aiComponents": "AI component", "integrations": "integration"}.get(
        section, section.rstrip("s")
    )


def validate_flow(flow: Flow, file: str, catalog: CatalogSpec | None) -> None:
    """Raise FlowError listing every problem of `flow` (an effective flow: overlays applied)."""
    problems: list[Problem] = []
    nodes: dict[str, Node] = {}
    for node in flow.spec.nodes:
        if node.id in nodes:
            problems.append(Problem(file, node.id, "duplicate node id"))
        if node.id == CONTINUE:
            problems.append(
                Problem(file, node.id, "`$continue` is a target for inserted nodes, not a node id")
            )
        nodes[node.id] = node
    if flow.spec.start not in nodes:
        problems.append(Problem(file, "", f"start node {flow.spec.start!r} does not exist"))
    for node in flow.spec.nodes:
        for target in successors(node):
            if target not in nodes:
                shown = "`$continue` outside an overlay insert" if target == CONTINUE else repr(target)
                problems.append(Problem(file, node.id, f"refers to unknown node {shown}"))
        problems.extend(check_node(node, file, catalog))
        if isinstance(node, ParallelNode):
            problems.extend(_check_parallel(node, nodes, file))
    problems.extend(_check_time_zone(flow, file))
    if not problems:
        problems.extend(_check_exits(flow, nodes, file))
    if problems:
        raise FlowError(problems)


def _check_time_zone(flow: Flow, file: str) -> list[Problem]:
    try:
        zoneinfo.ZoneInfo(flow.spec.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return [Problem(file, "", f"timeZone: unknown time zone {flow.spec.time_zone!r}")]
    return []


def _check_parallel(node: ParallelNode, nodes: dict[str, Node], file: str) -> list[Problem]:
    problems = []
    for branch in node.branches:
        seen: set[str] = set()
        stack = [branch]
        reaches_join = False
        while stack:
            current = stack.pop()
            if current == node.join:
                reaches_join = True
                continue
            if current in seen or current not in nodes:
                continue
            seen.add(current)
            if isinstance(nodes[current], ParallelNode):
                problems.append(
                    Problem(file, node.id, f"branch {branch!r}: nested parallel nodes are not supported")
                )
            stack.extend(successors(nodes[current]))
        if not reaches_join:
            problems.append(Problem(file, node.id, f"branch {branch!r} never reaches the join {node.join!r}"))
    return problems


def _check_exits(flow: Flow, nodes: dict[str, Node], file: str) -> list[Problem]:
    """Every node reachable from the start must be able to reach an end, a queue or a transfer."""
    reachable: set[str] = set()
    stack = [flow.spec.start]
    while stack:
        current = stack.pop()
        if current in reachable:
            continue
        reachable.add(current)
        stack.extend(successors(nodes[current]))
    predecessors: dict[str, list[str]] = {node_id: [] for node_id in nodes}
    for node in nodes.values():
        for target in successors(node):
            predecessors[target].append(node.id)
    can_exit = {node_id for node_id, node in nodes.items() if node.kind in TERMINAL_KINDS}
    stack = list(can_exit)
    while stack:
        for previous in predecessors[stack.pop()]:
            if previous not in can_exit:
                can_exit.add(previous)
                stack.append(previous)
    trapped = sorted(reachable - can_exit)
    return [
        Problem(file, node_id, "is in a cycle with no exit: no end, queue or transfer can be reached from it")
        for node_id in trapped
    ]
